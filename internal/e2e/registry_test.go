package e2e

import (
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"

	"github.com/opencontainers/go-digest"

	"github.com/stellaops/mirror/internal/sample"
	"github.com/stellaops/mirror/internal/testutil"
	"github.com/stellaops/mirror/pkg/bundle"
	"github.com/stellaops/mirror/pkg/mirror"
)

// TestPushSyncPullWithOras pushes with the binary, checks the result with
// oras (discover shows the DSSE referrer, manifest fetch returns the root),
// syncs to a second registry (same root), pulls from there, and verifies.
func TestPushSyncPullWithOras(t *testing.T) {
	archive, pub, rel := signedBundle(t, sample.Spec{}, ".tar.zst")
	first, second := testutil.Distribution(t), testutil.Distribution(t)
	ref := first + "/stellaops/mirror-bundle:" + rel.Spec.Version
	r := mustStella(t, "mirror", "push", archive, first+"/stellaops/mirror-bundle", "--plain-http", "--key", pub, "--format", "json")
	var pushed mirror.PlaceResult
	if err := json.Unmarshal([]byte(r.stdout), &pushed); err != nil {
		t.Fatal(err)
	}
	if pushed.ReferrersMode != mirror.ReferrersTagIndex {
		t.Errorf("referrers mode on distribution: %q", pushed.ReferrersMode)
	}
	oras := tool(t, "oras")
	root := run(t, oras, "manifest", "fetch", "--plain-http", ref)
	if digest.FromString(root) != pushed.Root {
		t.Fatalf("oras manifest fetch: %s, stella pushed %s", digest.FromString(root), pushed.Root)
	}
	discovered := run(t, oras, "discover", "--plain-http", "--format", "json", ref)
	if !strings.Contains(discovered, bundle.ArtifactTypeDSSE) {
		t.Errorf("oras discover does not show the DSSE referrer:\n%s", discovered)
	}

	r = mustStella(t, "mirror", "sync", ref, second+"/mirror/bundle", "--plain-http", "--key", pub, "--format", "json")
	var synced mirror.PlaceResult
	json.Unmarshal([]byte(r.stdout), &synced)
	if synced.Root != pushed.Root {
		t.Fatalf("sync root %s, pushed %s", synced.Root, pushed.Root)
	}
	out := filepath.Join(t.TempDir(), "pulled")
	mustStella(t, "mirror", "pull", second+"/mirror/bundle:"+rel.Spec.Version, out, "--plain-http", "--key", pub)
	mustStella(t, "mirror", "verify", filepath.Join(out, "manifest.dsse"), "--key", pub)
	mustStella(t, "mirror", "verify-checksums", out, "--key", pub)
	mustStella(t, "mirror", "pack", out, "--output", filepath.Join(t.TempDir(), "again.tar"))

	// A wrong key: nothing pulled.
	other := filepath.Join(t.TempDir(), "other")
	stella(t, []string{"COSIGN_PASSWORD=x"}, "mirror", "keygen", "--output-key-prefix", other)
	bad := filepath.Join(t.TempDir(), "bad")
	if r := stella(t, nil, "mirror", "pull", second+"/mirror/bundle:"+rel.Spec.Version, bad, "--plain-http", "--key", other+".pub"); r.code != 5 {
		t.Errorf("pull with a wrong key: exit %d %s", r.code, r.stderr)
	}
}
