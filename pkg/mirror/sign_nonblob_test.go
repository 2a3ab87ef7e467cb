package mirror_test

import (
	"bytes"
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

// TestSignKeepsFilesNotNamedAsBlobs: sign removes the blobs nothing of the
// bundle reaches (its own leftovers: the old signature's), but a file in
// blobs/sha256 whose name is no sha256 digest is no blob any sign wrote:
// an operator's notes, a copy's "HEX (1)", an editor's backup. sign
// deleted it without a word, exit 0; it is refused as not part of the
// bundle, exit 11, and left where it is (found by review).
func TestSignKeepsFilesNotNamedAsBlobs(t *testing.T) {
	t.Parallel()
	s := newSignedSample(t, sample.Spec{}, 0)
	blobs := s.blobFiles(t)
	for _, name := range []string{"notes.txt", blobs[0].Name() + " (1)", blobs[0].Name() + "~", strings.ToUpper(blobs[0].Name())} {
		t.Run(name, func(t *testing.T) {
			dir := copyBundle(t, s.dir)
			path := filepath.Join(dir, "blobs", "sha256", name)
			if err := os.WriteFile(path, []byte("kept\n"), 0o644); err != nil {
				t.Fatal(err)
			}
			_, err := mirror.Sign(context.Background(), mirror.SignOptions{Manifest: filepath.Join(dir, "manifest.json"), Key: s.priv, Password: testPass})
			if !errors.Is(err, errdef.ErrMalformed) || !strings.Contains(err.Error(), name) || !strings.Contains(err.Error(), "not part of the bundle") {
				t.Errorf("sign with blobs/sha256/%s: %v, want it refused as not part of the bundle, naming it", name, err)
			}
			if data, err := os.ReadFile(path); err != nil || string(data) != "kept\n" {
				t.Errorf("sign removed or changed blobs/sha256/%s: %q, %v", name, data, err)
			}
		})
	}
}

// TestSignKeepsADirectoryNamedAsABlob: a directory in blobs/sha256 named as
// a blob digest is no blob any sign wrote (an operator's folder, a copy
// that made one): sign refuses it as not part of the bundle, exit 11,
// naming it, and leaves it, empty or not, as it was.
func TestSignKeepsADirectoryNamedAsABlob(t *testing.T) {
	t.Parallel()
	s := newSignedSample(t, sample.Spec{}, 0)
	name := digest.FromString("no blob of the bundle").Encoded()
	for _, tt := range []struct {
		name  string
		files []string
	}{
		{"empty", nil},
		{"holding a file", []string{"notes.txt"}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			dir := copyBundle(t, s.dir)
			path := filepath.Join(dir, "blobs", "sha256", name)
			if err := os.Mkdir(path, 0o755); err != nil {
				t.Fatal(err)
			}
			for _, f := range tt.files {
				if err := os.WriteFile(filepath.Join(path, f), []byte("kept\n"), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			before := map[string][]byte{}
			for _, f := range []string{"SHA256SUMS", "manifest.dsse", "index.json"} {
				data, err := os.ReadFile(filepath.Join(dir, f))
				if err != nil {
					t.Fatal(err)
				}
				before[f] = data
			}
			_, err := mirror.Sign(context.Background(), mirror.SignOptions{Manifest: filepath.Join(dir, "manifest.json"), Key: s.priv, Password: testPass})
			if !errors.Is(err, errdef.ErrMalformed) || !strings.Contains(err.Error(), path) {
				t.Errorf("sign with a directory blobs/sha256/%s: %v, want it refused as malformed (exit 11), naming it", name, err)
			}
			st, serr := os.Stat(path)
			if serr != nil || !st.IsDir() {
				t.Fatalf("sign removed or replaced the directory blobs/sha256/%s: %v", name, serr)
			}
			entries, err := os.ReadDir(path)
			if err != nil || len(entries) != len(tt.files) {
				t.Errorf("directory blobs/sha256/%s holds %v (%v), want %v", name, entries, err, tt.files)
			}
			for _, f := range tt.files {
				if data, err := os.ReadFile(filepath.Join(path, f)); err != nil || string(data) != "kept\n" {
					t.Errorf("sign changed %s: %q, %v", f, data, err)
				}
			}
			// Refused, the bundle is as it was: its signing put back.
			for f, data := range before {
				if now, err := os.ReadFile(filepath.Join(dir, f)); err != nil || !bytes.Equal(now, data) {
					t.Errorf("sign refused, but %s changed (%v)", f, err)
				}
			}
		})
	}
}
