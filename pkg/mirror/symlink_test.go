package mirror_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stellaops/mirror/pkg/errdef"
	"github.com/stellaops/mirror/pkg/mirror"
)

// TestSymlinkedDirInBundleIsRefused: a signed bundle directory whose
// blobs/sha256 (or docs/) was moved out and replaced by a symlink to it
// holds the signed bytes, but through a symlink: verify and pack refuse it
// as malformed (exit 11), naming the symlink, instead of reading the files
// from outside the bundle.
func TestSymlinkedDirInBundleIsRefused(t *testing.T) {
	signed := newBundle(t)
	priv, pub := testKeys(t, "cosign")
	sign(t, signed, priv)
	for _, sub := range []string{"blobs/sha256", "docs"} {
		t.Run(sub, func(t *testing.T) {
			dir := copyBundle(t, signed)
			link := filepath.Join(dir, filepath.FromSlash(sub))
			outside := filepath.Join(t.TempDir(), "moved")
			if err := os.Rename(link, outside); err != nil {
				t.Fatal(err)
			}
			if err := os.Symlink(outside, link); err != nil {
				t.Skipf("no symlinks here: %v", err)
			}
			malformed := func(what string, err error) {
				t.Helper()
				if !errors.Is(err, errdef.ErrMalformed) || errors.Is(err, errdef.ErrDigestMismatch) || errors.Is(err, errdef.ErrSignature) ||
					!strings.Contains(err.Error(), link) {
					t.Errorf("%s: err = %v, want ErrMalformed (only) naming %s", what, err, link)
				}
			}
			_, err := verify(dir, trustKeys(pub))
			malformed("verify", err)
			_, err = mirror.Pack(context.Background(), mirror.PackOptions{Dir: dir, Output: filepath.Join(t.TempDir(), "b.tar")})
			malformed("pack", err)
		})
	}
}
