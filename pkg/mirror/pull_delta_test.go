package mirror_test

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/stellaops/mirror/internal/testutil"
	"github.com/stellaops/mirror/pkg/bundle"
	"github.com/stellaops/mirror/pkg/mirror"
)

// TestPullDelta pulls a delta bundle back from the registry it was
// imported into, over its base: the directory must be the one create
// --base and sign wrote, file for file, without the base's blobs (which
// the registry holds under the delta's root too, but which the delta's
// signed SHA256SUMS does not list), so that verify-checksums, verify and
// pack work on it as on the delta made on the connected side.
func TestPullDelta(t *testing.T) {
	t.Parallel()
	f := newDeltaFixture(t)
	ctx := context.Background()
	// One advisory unchanged since the base: the delta omits its file
	// too, and pull must leave out its human-view file as create did.
	kept := readManifest(t, f.a.dir).Advisories[0]
	data, err := os.ReadFile(filepath.Join(f.a.dir, filepath.FromSlash(kept.Path)))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(f.advisoriesB, filepath.Base(kept.Path)), data, 0o644); err != nil {
		t.Fatal(err)
	}
	deltaDir, deltaTar := f.create(t, f.a.dir, trustKeys(f.a.pub))
	if _, err := mirror.Import(ctx, importOpts(t, deltaTar, f.target, f.a.pub)); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(t.TempDir(), "pulled")
	var pulled *mirror.PullResult
	ref := f.target + "/" + bundle.DefaultBundleRepository + ":" + f.relB.Spec.Version
	pulled, err = mirror.Pull(ctx, mirror.PullOptions{Reference: ref, Output: out, Trust: trustKeys(f.a.pub), Client: testutil.Client(t), Transfer: transferOpts()})
	if err != nil {
		t.Fatal(err)
	}
	assertSameTree(t, deltaDir, out)
	if _, err := mirror.VerifyChecksums(ctx, mirror.ChecksumsOptions{Dir: out, Trust: trustKeys(f.a.pub)}); err != nil {
		t.Errorf("verify-checksums of the pulled delta: %v", err)
	}
	if _, err := verify(out, trustKeys(f.a.pub)); err != nil {
		t.Errorf("verify of the pulled delta: %v", err)
	}
	base := readManifest(t, deltaDir).Base
	if !slices.Contains(base.Omitted, kept.Digest) {
		t.Fatalf("the delta carries the unchanged advisory %s: the test needs it omitted", kept.Path)
	}
	// The pulled delta goes on as the one create --base wrote: packed, it
	// imports into another far side that holds its base.
	tarPath := filepath.Join(t.TempDir(), "pulled.tar")
	if _, err := mirror.Pack(ctx, mirror.PackOptions{Dir: out, Output: tarPath}); err != nil {
		t.Fatalf("pack of the pulled delta: %v", err)
	}
	other := testutil.Registry(t)
	if _, err := mirror.Import(ctx, importOpts(t, f.a.dir, other, f.a.pub)); err != nil {
		t.Fatal(err)
	}
	res, err := mirror.Import(ctx, importOpts(t, tarPath, other, f.a.pub))
	if err != nil {
		t.Fatalf("import of the pulled delta over its base: %v", err)
	}
	if res.Root != pulled.Root {
		t.Errorf("imported root %s, pulled %s", res.Root, pulled.Root)
	}
	t.Logf("pulled %d blobs, %d bytes; the delta omits %d", pulled.Blobs, pulled.Bytes, len(base.Omitted))
}
