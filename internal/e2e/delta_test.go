package e2e

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stellaops/mirror/internal/sample"
	"github.com/stellaops/mirror/internal/testutil"
	"github.com/stellaops/mirror/pkg/mirror"
)

// TestDeltaInventoryCatalogVolumes runs the update cycle with the binary:
// full bundle imported; an inventory of the far side; a delta made from it,
// split onto 1 MiB "sticks"; each volume checked; the delta imported from
// the volumes with the catalog refreshed; the catalog verified; a corrupt
// volume of the full bundle named by serve.
func TestDeltaInventoryCatalogVolumes(t *testing.T) {
	source := testutil.Distribution(t)
	target := testutil.Distribution(t)
	root := testutil.ModuleRoot(t)
	key, pub := filepath.Join(root, "tools/cosign/cosign.dev.key"), filepath.Join(root, "tools/cosign/cosign.pub")
	pass := []string{"COSIGN_PASSWORD=stellaops-dev"}
	work := t.TempDir()
	spec := sample.Spec{BaseLayerSize: 2 << 20, LayerSize: 1 << 20}
	_, releaseA, advA := testutil.PushSample(t, source, spec)
	spec.Variant, spec.Version = 9, "2025.11.0"
	_, releaseB, advB := testutil.PushSample(t, source, spec)

	full := filepath.Join(work, "a")
	mustStella(t, "mirror", "create", "--images", releaseA, "--advisories", advA, "--output", full, "--plain-http")
	if r := stella(t, pass, "mirror", "sign", filepath.Join(full, "manifest.json"), "--key", key); r.code != 0 {
		t.Fatal(r.stderr)
	}
	mustStella(t, "mirror", "import", full, "--registry", target, "--plain-http", "--key", pub)

	inv := filepath.Join(work, "inventory.json")
	if r := stella(t, pass, "mirror", "inventory", "--registry", target, "--plain-http", "--output", inv, "--key", key, "--bundle-key", pub); r.code != 0 {
		t.Fatal(r.stderr)
	}
	delta := filepath.Join(work, "b")
	r := mustStella(t, "mirror", "create", "--images", releaseB, "--advisories", advB, "--output", delta, "--plain-http",
		"--base", inv, "--base-key", pub, "--format", "json")
	var created mirror.CreateResult
	json.Unmarshal([]byte(r.stdout), &created)
	if created.Manifest == nil || created.Manifest.Base == nil || len(created.Manifest.Base.Omitted) == 0 {
		t.Fatalf("create --base: %s", r.stdout)
	}
	if r := stella(t, pass, "mirror", "sign", filepath.Join(delta, "manifest.json"), "--key", key); r.code != 0 {
		t.Fatal(r.stderr)
	}
	archive := filepath.Join(work, "media", "b.tar.zst")
	os.MkdirAll(filepath.Dir(archive), 0o755)
	if r := stella(t, pass, "mirror", "pack", delta, "--output", archive, "--split", "1M", "--key", key); r.code != 0 {
		t.Fatal(r.stderr)
	}
	list := archive + ".volumes.json"
	mustStella(t, "mirror", "verify-checksums", list, "--key", pub)
	if r := stella(t, pass, "mirror", "import", list, "--registry", target, "--plain-http", "--key", pub, "--catalog-key", key); r.code != 0 {
		t.Fatalf("import from volumes: %s", r.stderr)
	}
	r = mustStella(t, "mirror", "catalog", target+"/stellaops/mirror-bundle", "--verify", "--key", pub, "--plain-http")
	if !strings.Contains(r.stdout, "2025.10.0") || !strings.Contains(r.stdout, "2025.11.0") {
		t.Errorf("catalog:\n%s", r.stdout)
	}

	// The full bundle on sticks, one byte changed on the second: serve,
	// reading the volumes at random (and every blob before it listens),
	// names that volume (its bytes differ from the list), exit 2.
	fullArchive := filepath.Join(work, "media", "a.tar.zst")
	if r := stella(t, pass, "mirror", "pack", full, "--output", fullArchive, "--split", "1M", "--key", key); r.code != 0 {
		t.Fatal(r.stderr)
	}
	second := fullArchive + ".001"
	data, err := os.ReadFile(second)
	if err != nil {
		t.Fatal(err)
	}
	data[len(data)/2] ^= 0x40
	os.WriteFile(second, data, 0o644)
	if r := stella(t, nil, "mirror", "serve", fullArchive+".volumes.json", "--key", pub, "--addr", "127.0.0.1:0"); r.code != 2 || !strings.Contains(r.stderr, "volume a.tar.zst.001 is corrupt") {
		t.Errorf("serve from a corrupt volume: exit %d %s", r.code, r.stderr)
	}

	// A missing volume is named, exit 1.
	os.Remove(archive + ".000")
	if r := stella(t, nil, "mirror", "verify-checksums", list); r.code != 1 || !strings.Contains(r.stderr, "b.tar.zst.000") {
		t.Errorf("missing volume: exit %d %s", r.code, r.stderr)
	}
}
