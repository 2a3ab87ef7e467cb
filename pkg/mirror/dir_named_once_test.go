package mirror_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stellaops/mirror/internal/sample"
)

// TestBundleDirectoryNamedOnceInItsErrors: a file of a bundle directory
// that is no part of it, a blob damaged or missing, is named once, as
// DIR/FILE, by verify, import, push and serve. They said "DIR: DIR/FILE:
// …", serve and verify naming the directory that the file's path names
// already, and import and push "DIR: blob sha256:X: DIR/blobs/sha256/X: …"
// (found by review).
func TestBundleDirectoryNamedOnceInItsErrors(t *testing.T) {
	t.Parallel()
	s := newSignedSample(t, sample.Spec{}, 0)
	blobs := s.blobFiles(t)
	blob := "blobs/sha256/" + blobs[0].Name()
	for _, tt := range []struct {
		name   string
		damage func(dir string) error
	}{
		{"stray file", func(dir string) error { return os.WriteFile(filepath.Join(dir, "extra.txt"), []byte("x"), 0o644) }},
		{"damaged blob", func(dir string) error { return os.WriteFile(filepath.Join(dir, blob), []byte("damaged"), 0o644) }},
		{"missing blob", func(dir string) error { return os.Remove(filepath.Join(dir, blob)) }},
	} {
		t.Run(tt.name, func(t *testing.T) {
			dir := copyBundle(t, s.dir)
			if err := tt.damage(dir); err != nil {
				t.Fatal(err)
			}
			once := func(op string, err error) {
				t.Helper()
				if err == nil || strings.Count(err.Error(), dir) != 1 {
					t.Errorf("%s: %v, want the bundle directory named once", op, err)
				}
			}
			for op, err := range farSideErrors(t, dir, s.pub) {
				once(op, err)
			}
		})
	}
}
