package cli

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestCreateGenerationZeroRefused: --generation -1 was refused ("must be
// positive") but --generation 0, as a counter starting at 0 gives it, was
// taken for the flag left out: the bundle got createdAt in Unix seconds
// (some 1.7e9), and every bundle after it, --generation 1, 2, …, was
// refused by the far side as not newer (exit 8). It is refused, exit 1,
// before any request (found by review).
func TestCreateGenerationZeroRefused(t *testing.T) {
	dir := t.TempDir()
	release := filepath.Join(dir, "release.txt")
	if err := os.WriteFile(release, []byte("127.0.0.1:1/a/b@sha256:"+strings.Repeat("0", 64)+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	code, stdout, stderr := run(t, "mirror", "create", "--images", release, "--release-version", "1.0", "--output", filepath.Join(dir, "out"), "--generation", "0")
	want := "stella: --generation 0: must be positive"
	if code != ExitInput || stdout != "" || !strings.HasPrefix(stderr, want) {
		t.Errorf("create --generation 0: exit %d, stdout %q, stderr %q; want exit %d, %q", code, stdout, stderr, ExitInput, want)
	}
}
