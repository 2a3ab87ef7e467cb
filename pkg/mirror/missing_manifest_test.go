package mirror_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/opencontainers/go-digest"

	"github.com/stellaops/mirror/internal/testutil"
	"github.com/stellaops/mirror/pkg/errdef"
	"github.com/stellaops/mirror/pkg/mirror"
)

// A bundle directory that lost a platform manifest on the media (no
// cosign tag names it) is content lost: import, like verify, says exit 2
// (do not import this copy), naming the manifest, and writes no tag. It
// said input not found (exit 1), as if a path were mistyped.
func TestImportOfADirectoryMissingAManifestIsAMismatch(t *testing.T) {
	ctx := context.Background()
	src := testutil.Registry(t)
	r := rawRepo{t, src, "app/lost-platform"}
	idx, amd, _ := r.twoPlatforms()
	dir := filepath.Join(t.TempDir(), "bundle")
	opts := createOpts(t, releaseOf(t, src, map[string]digest.Digest{r.name: idx.Digest}), "", dir)
	opts.Version = "2025.10.0"
	if _, err := mirror.Create(ctx, opts); err != nil {
		t.Fatal(err)
	}
	priv, pub := testKeys(t, "producer")
	if _, err := mirror.Sign(ctx, mirror.SignOptions{Manifest: filepath.Join(dir, "manifest.json"), Key: priv, Password: testPass}); err != nil {
		t.Fatal(err)
	}
	if err := os.Remove(filepath.Join(dir, "blobs", "sha256", amd.Digest.Encoded())); err != nil {
		t.Fatal(err)
	}
	_, err := mirror.Verify(ctx, mirror.VerifyOptions{Now: testNow, Envelope: filepath.Join(dir, "manifest.dsse"), Trust: trustKeys(pub)})
	if !errors.Is(err, errdef.ErrDigestMismatch) || !strings.Contains(err.Error(), amd.Digest.Encoded()) {
		t.Errorf("verify of a bundle that lost %s: %v, want a digest mismatch naming it (exit 2)", amd.Digest, err)
	}
	dst := testutil.Registry(t)
	_, err = mirror.Import(ctx, importOpts(t, dir, dst, pub))
	if !errors.Is(err, errdef.ErrDigestMismatch) || !strings.Contains(err.Error(), amd.Digest.Encoded()) {
		t.Errorf("import of a bundle that lost %s: %v, want a digest mismatch naming it (exit 2)", amd.Digest, err)
	}
	if tags := testutil.Tags(t, dst); len(tags) != 0 {
		t.Errorf("import wrote tags %v", tags)
	}
}
