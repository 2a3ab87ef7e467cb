package mirror_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stellaops/mirror/internal/sample"
	"github.com/stellaops/mirror/internal/testutil"
	"github.com/stellaops/mirror/pkg/errdef"
	"github.com/stellaops/mirror/pkg/mirror"
)

// TestClutterOfFileManagersNamedWithItsRemedy: a bundle directory copied
// through macOS Finder onto FAT or exFAT media gets .DS_Store and an
// AppleDouble ._NAME beside its files (blobs/sha256/._<hex> too); Windows
// Explorer leaves Thumbs.db and desktop.ini. verify, import, push, serve
// and sign still refuse them (exit 11: nothing unsigned is vouched for),
// now naming what they are and how to remove them in the one line. They
// said "not part of the bundle (manifest.json does not name it)", or "no
// manifest of the bundle reaches it", as of a file planted there, and sign
// removed blobs/sha256/._<hex> without a word (found by review).
func TestClutterOfFileManagersNamedWithItsRemedy(t *testing.T) {
	t.Parallel()
	s := newSignedSample(t, sample.Spec{}, 0)
	blobs := s.blobFiles(t)
	for _, tt := range []struct{ name, what, remedy string }{
		{"._manifest.json", "a macOS metadata file (AppleDouble)", "dot_clean "},
		{"blobs/sha256/._" + blobs[0].Name(), "a macOS metadata file (AppleDouble)", "dot_clean "},
		{"advisories/.DS_Store", "a macOS Finder file (.DS_Store)", "-name .DS_Store -delete"},
		{"Thumbs.db", "a Windows thumbnail cache (Thumbs.db)", "-iname Thumbs.db -delete"},
		{"docs/desktop.ini", "a Windows folder settings file (desktop.ini)", "-iname desktop.ini -delete"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			ctx := context.Background()
			dir := copyBundle(t, s.dir)
			if err := os.WriteFile(filepath.Join(dir, filepath.FromSlash(tt.name)), []byte("\x00\x05\x16\x07"), 0o644); err != nil {
				t.Fatal(err)
			}
			want := func(op string, err error) {
				t.Helper()
				if !errors.Is(err, errdef.ErrMalformed) || !strings.Contains(err.Error(), tt.name+": "+tt.what+", not part of the bundle: remove them (") || !strings.Contains(err.Error(), tt.remedy) || strings.Contains(err.Error(), "\n") {
					t.Errorf("%s: %v, want it refused as malformed naming %s as %s and how to remove it", op, err, tt.name, tt.what)
				}
			}
			for op, err := range farSideErrors(t, dir, s.pub) {
				want(op, err)
			}
			_, err := mirror.Sign(ctx, mirror.SignOptions{Manifest: filepath.Join(dir, "manifest.json"), Key: s.priv, Password: testPass})
			want("sign", err)
			if _, err := os.Lstat(filepath.Join(dir, filepath.FromSlash(tt.name))); err != nil {
				t.Errorf("sign: %v", err)
			}
			// Packed with it by another tool: the archive's entry is named.
			plain := packDir(t, dir)
			target := testutil.Registry(t)
			for _, src := range []string{plain, testutil.ForeignArchive(t, plain, "bundle.tar.gz")} {
				wantEntry := func(op string, err error) {
					t.Helper()
					if !errors.Is(err, errdef.ErrMalformed) || !strings.Contains(err.Error(), "archive entry \""+tt.name+"\": "+tt.what+", not part of the bundle: remove them from the bundle directory (") || !strings.Contains(err.Error(), tt.remedy) {
						t.Errorf("%s of %s: %v, want it refused as malformed naming %s as %s and how to remove it", op, filepath.Base(src), err, tt.name, tt.what)
					}
				}
				_, err := mirror.Verify(ctx, mirror.VerifyOptions{Envelope: src, Trust: trustKeys(s.pub), Now: testNow})
				wantEntry("verify", err)
				_, err = mirror.Import(ctx, importOpts(t, src, target, s.pub))
				wantEntry("import", err)
			}
		})
	}
}
