package mirror_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stellaops/mirror/pkg/errdef"
	"github.com/stellaops/mirror/pkg/layout"
	"github.com/stellaops/mirror/pkg/mirror"
)

// A file SHA256SUMS lists that the bundle directory lacks (a layer, a
// manifest, an advisory) is the directory not matching its checksums: pack
// fails with exit 2 naming it, as verify, verify-checksums, push and
// import say of the same directory, and leaves no archive. It said "not
// found" (exit 1, a file the operator named wrongly; found by review).
func TestPackOfADirectoryMissingAListedFile(t *testing.T) {
	t.Parallel()
	dir := makeBundle(t)
	m := readManifest(t, dir)
	layer := "blobs/sha256/" + filepath.Base(largestBlob(t, dir))
	for name, missing := range map[string]string{
		"layer":    layer,
		"manifest": "blobs/sha256/" + m.Images[0].Digest.Encoded(),
		"advisory": m.Advisories[0].Path,
	} {
		for _, suffix := range []string{".tar", ".tar.zst"} {
			t.Run(name+suffix, func(t *testing.T) {
				d := filepath.Join(t.TempDir(), "bundle")
				if err := os.CopyFS(d, os.DirFS(dir)); err != nil {
					t.Fatal(err)
				}
				if err := os.Remove(filepath.Join(d, missing)); err != nil {
					t.Fatal(err)
				}
				out := filepath.Join(t.TempDir(), "bundle"+suffix)
				_, err := mirror.Pack(context.Background(), mirror.PackOptions{Dir: d, Output: out})
				want := missing + " is listed in " + layout.ChecksumsFile + " but missing"
				if !errors.Is(err, errdef.ErrDigestMismatch) || !strings.Contains(err.Error(), want) {
					t.Fatalf("pack without %s: %v, want a digest mismatch saying %q", missing, err, want)
				}
				if entries, _ := os.ReadDir(filepath.Dir(out)); len(entries) != 0 {
					t.Errorf("failed pack left %v", entries)
				}
			})
		}
	}
}
