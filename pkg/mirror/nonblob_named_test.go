package mirror_test

import (
	"cmp"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/opencontainers/go-digest"

	"github.com/stellaops/mirror/internal/sample"
	"github.com/stellaops/mirror/pkg/errdef"
	"github.com/stellaops/mirror/pkg/mirror"
)

// TestNonBlobInBlobsNamedAsWhatItIs: what blobs/sha256 holds under a blob
// digest's name that is no regular file (a directory, empty or not, a
// symlink to a blob of the bundle or out of it, a named pipe) is no blob,
// whatever its name: verify, import, push, serve and sign refuse it as
// not part of the bundle (exit 11), naming it once, DIR/blobs/sha256/HEX,
// and saying what it is, in the same words. verify, import, push and
// serve said "DIR: blobs/sha256/HEX: no manifest of the bundle reaches
// it", as of a stray blob, and sign "not a regular file" of a symlink
// (found by review). A directory named ._HEX is a directory too: sign
// called it "a macOS metadata file (AppleDouble)", verify a directory.
func TestNonBlobInBlobsNamedAsWhatItIs(t *testing.T) {
	t.Parallel()
	s := newSignedSample(t, sample.Spec{}, 0)
	blobs := s.blobFiles(t)
	name := digest.FromString("no blob of the bundle").Encoded()
	outside := filepath.Join(t.TempDir(), "outside")
	if err := os.WriteFile(outside, []byte("outside the bundle\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		name, what string
		make       func(t *testing.T, path string) error
		entry      string // its name in blobs/sha256; name if ""
	}{
		{"empty directory", "a directory", func(_ *testing.T, p string) error { return os.Mkdir(p, 0o755) }, ""},
		{"directory holding a file", "a directory", func(_ *testing.T, p string) error {
			if err := os.Mkdir(p, 0o755); err != nil {
				return err
			}
			return os.WriteFile(filepath.Join(p, "notes.txt"), []byte("x\n"), 0o644)
		}, ""},
		{"symlink to a blob of the bundle", "a symbolic link", func(_ *testing.T, p string) error { return os.Symlink(blobs[0].Name(), p) }, ""},
		{"symlink out of the bundle", "a symbolic link", func(_ *testing.T, p string) error { return os.Symlink(outside, p) }, ""},
		{"named pipe", "a named pipe", func(t *testing.T, p string) error { mkfifo(t, p); return nil }, ""},
		{"directory named as an AppleDouble file", "a directory", func(_ *testing.T, p string) error { return os.Mkdir(p, 0o755) }, "._" + name},
	} {
		t.Run(tt.name, func(t *testing.T) {
			dir := copyBundle(t, s.dir)
			entry := cmp.Or(tt.entry, name)
			path := filepath.Join(dir, "blobs", "sha256", entry)
			if err := tt.make(t, path); err != nil {
				t.Fatal(err)
			}
			want := path + ": " + tt.what + ", not part of the bundle"
			check := func(op string, err error) {
				t.Helper()
				if !errors.Is(err, errdef.ErrMalformed) || !strings.Contains(err.Error(), want) || strings.Count(err.Error(), dir) != 1 {
					t.Errorf("%s: %v, want it refused as malformed (exit 11), naming the bundle directory once, saying %q", op, err, want)
				}
			}
			for op, err := range farSideErrors(t, dir, s.pub) {
				check(op, err)
			}
			_, err := mirror.Sign(context.Background(), mirror.SignOptions{Manifest: filepath.Join(dir, "manifest.json"), Key: s.priv, Password: testPass})
			check("sign", err)
			if _, err := os.Lstat(path); err != nil {
				t.Errorf("sign removed blobs/sha256/%s: %v", entry, err)
			}
		})
	}
}
