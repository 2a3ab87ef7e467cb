package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stellaops/mirror/internal/sample"
	"github.com/stellaops/mirror/internal/testutil"
	"github.com/stellaops/mirror/pkg/mirror"
)

// signedBundle creates, signs (with the dev key) and packs a bundle of the
// sample release from a distribution registry.
func signedBundle(t *testing.T, spec sample.Spec, suffix string, createArgs ...string) (archive, pub string, rel *sample.Release) {
	t.Helper()
	source := testutil.Distribution(t)
	rel, releaseFile, advisories := testutil.PushSample(t, source, spec)
	work := t.TempDir()
	dir := filepath.Join(work, "bundle")
	mustStella(t, append([]string{"mirror", "create", "--images", releaseFile, "--advisories", advisories, "--output", dir, "--plain-http"}, createArgs...)...)
	root := testutil.ModuleRoot(t)
	r := stella(t, []string{"COSIGN_PASSWORD=stellaops-dev"}, "mirror", "sign", filepath.Join(dir, "manifest.json"),
		"--key", filepath.Join(root, "tools/cosign/cosign.dev.key"), "--output", filepath.Join(dir, "manifest.dsse"))
	if r.code != 0 {
		t.Fatalf("sign: %d %s", r.code, r.stderr)
	}
	archive = filepath.Join(work, "bundle"+suffix)
	mustStella(t, "mirror", "pack", dir, "--output", archive)
	return archive, filepath.Join(root, "tools/cosign/cosign.pub"), rel
}

// TestImportKilledAndResumed kills an import mid-way (after a third of its
// bytes went up and a layer is whole), checks that no tag was written, and re-runs it: the second
// run completes, sends fewer bytes, and the registry holds the release.
// Another tool's .tar.gz is read as one stream; pack's .tar.zst at random,
// here one blob at a time so that some are whole when the process dies.
func TestImportKilledAndResumed(t *testing.T) {
	for suffix, args := range map[string][]string{"foreign.tar.gz": nil, ".tar.zst": {"--concurrency", "1"}} {
		t.Run(suffix, func(t *testing.T) { testImportKilledAndResumed(t, suffix, args) })
	}
}

func testImportKilledAndResumed(t *testing.T, suffix string, args []string) {
	spec := sample.Spec{BaseLayerSize: 8 << 20, LayerSize: 3 << 20}
	var archive, pub string
	var rel *sample.Release
	if foreign, ok := strings.CutPrefix(suffix, "foreign"); ok {
		archive, pub, rel = signedBundle(t, spec, ".tar")
		archive = testutil.ForeignArchive(t, archive, "bundle"+foreign)
	} else {
		archive, pub, rel = signedBundle(t, spec, suffix)
	}
	target := testutil.Distribution(t)
	total := int64(8<<20 + 7*(3<<20))
	// Killed after a third of the bytes, and only once a layer is whole in
	// the registry: a stream has up to four blobs in flight, and a third
	// of the bytes could all be in blobs not yet complete (a re-run then
	// sends everything, as it must).
	g := testutil.NewGateAfterBlob(t, target, total/3, 3<<20)

	cmd := exec.Command(stellaBin, append([]string{"mirror", "import", archive, "--registry", g.Host, "--plain-http", "--key", pub, "--allow-expired"}, args...)...)
	cmd.Env = append(os.Environ(), "DOCKER_CONFIG="+t.TempDir())
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	select {
	case <-g.Reached:
	case err := <-exited:
		t.Fatalf("import ended before the gate was reached: %v", err)
	}
	cmd.Process.Kill()
	<-exited
	for repo, tags := range testutil.Tags(t, target) {
		if len(tags) > 0 {
			t.Errorf("killed import left tags in %s: %v", repo, tags)
		}
	}
	firstRun := g.Sent.Load()

	g.Open()
	r := mustStella(t, "mirror", "import", archive, "--registry", g.Host, "--plain-http", "--key", pub, "--allow-expired", "--format", "json")
	var res mirror.PlaceResult
	if err := json.Unmarshal([]byte(r.stdout), &res); err != nil {
		t.Fatalf("%v: %s", err, r.stdout)
	}
	if res.Blobs.BytesSent >= total || res.Blobs.BytesSent == 0 || res.Blobs.Skipped == 0 {
		t.Errorf("second run sent %d of %d bytes (%+v); the first had sent %d", res.Blobs.BytesSent, total, res.Blobs, firstRun)
	}
	client := testutil.Client(t)
	for _, img := range rel.Images {
		repo, _ := client.Repository(target + "/" + img.Repository)
		d, err := repo.Resolve(context.Background(), rel.Spec.Version)
		if err != nil || d.Digest != img.Descriptor.Digest {
			t.Errorf("%s:%s = %s (%v)", img.Repository, rel.Spec.Version, d.Digest, err)
		}
	}
}

// TestImportExitCodes runs the binary on bad bundles and keys.
func TestImportExitCodes(t *testing.T) {
	// Created long ago: expired, unless --allow-expired.
	archive, pub, _ := signedBundle(t, sample.Spec{}, ".tar", "--created", "2025-01-01T00:00:00Z")
	target := testutil.Distribution(t)
	other := filepath.Join(t.TempDir(), "other")
	r := stella(t, []string{"COSIGN_PASSWORD=x"}, "mirror", "keygen", "--output-key-prefix", other)
	if r.code != 0 {
		t.Fatalf("keygen: %s", r.stderr)
	}
	truncated := filepath.Join(t.TempDir(), "truncated.tar")
	data, _ := os.ReadFile(archive)
	os.WriteFile(truncated, data[:len(data)/2], 0o644)
	tests := []struct {
		name string
		args []string
		code int
		want string
	}{
		{"no key", []string{archive}, 1, "no trusted key"},
		{"wrong key", []string{archive, "--key", other + ".pub"}, 5, "signature"},
		{"missing bundle", []string{"/nonexistent.tar", "--key", pub}, 1, "/nonexistent.tar"},
		{"truncated", []string{truncated, "--key", pub, "--allow-expired"}, 11, "truncated"},
		{"expired", []string{archive, "--key", pub}, 3, "expired"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			args := append([]string{"mirror", "import", "--registry", target, "--plain-http"}, tt.args...)
			r := stella(t, nil, args...)
			if r.code != tt.code || !strings.Contains(r.stderr, tt.want) {
				t.Fatalf("exit %d (want %d), stderr %q (want %q)", r.code, tt.code, r.stderr, tt.want)
			}
			if tags := testutil.Tags(t, target); len(tags) != 0 {
				t.Errorf("registry changed: %v", tags)
			}
		})
	}
}

// TestTwoImportsAtOnce runs two import processes of one bundle into one
// registry at the same time: both end well, and the registry holds the
// release, each image tag on its digest.
func TestTwoImportsAtOnce(t *testing.T) {
	archive, pub, rel := signedBundle(t, sample.Spec{BaseLayerSize: 2 << 20}, ".tar.zst")
	target := testutil.Distribution(t)
	cmds := make([]*exec.Cmd, 2)
	outs := make([]bytes.Buffer, 2)
	for i := range cmds {
		cmds[i] = exec.Command(stellaBin, "mirror", "import", archive, "--registry", target, "--plain-http", "--key", pub,
			"--advisories-dir", filepath.Join(t.TempDir(), "advisories"))
		cmds[i].Env = append(os.Environ(), "DOCKER_CONFIG="+t.TempDir())
		cmds[i].Stdout, cmds[i].Stderr = &outs[i], &outs[i]
		if err := cmds[i].Start(); err != nil {
			t.Fatal(err)
		}
	}
	for i, cmd := range cmds {
		if err := cmd.Wait(); err != nil {
			t.Errorf("import %d: %v\n%s", i, err, outs[i].String())
		}
	}
	client := testutil.Client(t)
	for _, img := range rel.Images {
		repo, _ := client.Repository(target + "/" + img.Repository)
		d, err := repo.Resolve(context.Background(), rel.Spec.Version)
		if err != nil || d.Digest != img.Descriptor.Digest {
			t.Errorf("%s:%s = %s (%v)", img.Repository, rel.Spec.Version, d.Digest, err)
		}
	}
	r := mustStella(t, "mirror", "import", archive, "--registry", target, "--plain-http", "--key", pub, "--format", "json")
	var res mirror.PlaceResult
	if err := json.Unmarshal([]byte(r.stdout), &res); err != nil || res.Blobs.Sent != 0 || res.Manifests.Pushed != 0 {
		t.Errorf("a third import sent %+v, pushed %+v (%v)", res.Blobs, res.Manifests, err)
	}
}
