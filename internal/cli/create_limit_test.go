package cli

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stellaops/mirror/pkg/bundle"
)

// TestCreateRefusesTooManyImages: what an operator sees for a release of
// 8,000 images: exit 1 and one line naming the release file, the count,
// the limit and how to split it, before any request (the registry the
// release names does not exist) and with nothing written.
func TestCreateRefusesTooManyImages(t *testing.T) {
	dir := t.TempDir()
	var b strings.Builder
	for i := range 8000 {
		fmt.Fprintf(&b, "127.0.0.1:1/stellaops/component-%05d@sha256:%064x\n", i, i)
	}
	releaseFile := filepath.Join(dir, "release.txt")
	if err := os.WriteFile(releaseFile, []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(dir, "bundle")
	code, stdout, stderr := run(t, "mirror", "create", "--images", releaseFile, "--release-version", "2025.10.0", "--output", out, "--plain-http")
	want := fmt.Sprintf("stella: release too large for one bundle: %s names 8000 images, over the %d one bundle may hold: split the release into 2 bundles or more",
		releaseFile, bundle.MaxImages)
	if code != ExitInput || stdout != "" || !strings.HasPrefix(stderr, want) || strings.Count(stderr, "\n") != 1 {
		t.Errorf("exit %d, stdout %q, stderr %q\nwant exit %d and one line starting %q", code, stdout, stderr, ExitInput, want)
	}
	if _, err := os.Lstat(out); !os.IsNotExist(err) {
		t.Errorf("%s left behind: %v", out, err)
	}
}
