package mirror

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stellaops/mirror/internal/testutil"
	"github.com/stellaops/mirror/pkg/bundle"
	"github.com/stellaops/mirror/pkg/errdef"
	"github.com/stellaops/mirror/pkg/layout"
)

// TestCheckNoStrayFilesHostileDepth: the look for stray files in a bundle
// directory held a directory open for every level it was in, so a chain
// of 600 nested directories, a file at its end, ran out of descriptors
// under a low `ulimit -n` ("too many open files", exit 1), and one some
// 2000 deep passed PATH_MAX ("file name too long"), where the bundle holds
// what it must not (exit 11). A directory past 32 levels and deeper than
// any file manifest.json names can hold only stray files: one that holds
// anything is refused as it is met, not entered (found by review).
func TestCheckNoStrayFilesHostileDepth(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, layout.OCILayoutFile), []byte(`{"imageLayoutVersion":"1.0.0"}`), 0o644); err != nil {
		t.Fatal(err)
	}
	deep := filepath.Join(append([]string{dir}, strings.Split(strings.Repeat("d/", 600), "/")...)...)
	if err := os.MkdirAll(deep, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(deep, "x"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	// Empty directories are passed over as before.
	if err := os.MkdirAll(filepath.Join(dir, "e", "e", "e", "e"), 0o755); err != nil {
		t.Fatal(err)
	}
	m := &bundle.Manifest{Advisories: []bundle.File{{Path: "advisories/feed/a.json"}}}

	var err error
	testutil.WithFewDescriptors(t, 64, func() {
		err = checkNoStrayFiles(layout.OpenTree(dir), m)
	})
	if !errors.Is(err, errdef.ErrMalformed) || !strings.Contains(err.Error(), "/d/d/d: not part of the bundle (a directory deeper") {
		t.Errorf("a chain of 600 directories: %v; want d/…/d refused as not part of the bundle, malformed", err)
	}
}
