package mirror_test

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stellaops/mirror/internal/testutil"
	"github.com/stellaops/mirror/pkg/errdef"
)

// TestAdvisorySubdirectoryNotADirectoryNamed: import --advisories-dir DIR
// writes advisories/nvd/… into DIR/nvd. Where DIR/nvd is a symlink out of
// DIR (an operator who keeps one feed on another volume) or a regular
// file, the import failed with os.Root's words alone, "mkdirat nvd: statat
// nvd: path escapes from parent" or "mkdirat nvd: file exists", naming
// neither DIR/nvd nor what is wrong with it. The operator now meets exit 1
// naming DIR/nvd and what it is, before any tag or advisory is written,
// and nothing written through the symlink.
func TestAdvisorySubdirectoryNotADirectoryNamed(t *testing.T) {
	l := newAdvisoryLine(t)
	b := l.bundle(t, 100, map[string]string{"nvd/a.json": `{"a":1}`})
	for _, tc := range []struct {
		name string
		make func(t *testing.T, nvd string) (elsewhere string)
		want string
	}{
		{"symlink", func(t *testing.T, nvd string) string {
			elsewhere := t.TempDir()
			if err := os.Symlink(elsewhere, nvd); err != nil {
				t.Fatal(err)
			}
			return elsewhere
		}, "is a symbolic link (not followed)"},
		{"file", func(t *testing.T, nvd string) string {
			if err := os.WriteFile(nvd, []byte("notes\n"), 0o644); err != nil {
				t.Fatal(err)
			}
			return ""
		}, "is a file, not a directory"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			target, dir := testutil.Registry(t), t.TempDir()
			nvd := filepath.Join(dir, "nvd")
			elsewhere := tc.make(t, nvd)
			_, err := l.importInto(t, b, target, dir)
			if !errors.Is(err, errdef.ErrUsage) || !strings.Contains(err.Error(), nvd+" "+tc.want) {
				t.Errorf("import with %s a %s: %v; want it named, %q", nvd, tc.name, err, tc.want)
			}
			if tags := testutil.Tags(t, target); len(tags) != 0 {
				t.Errorf("a failed import tagged %v", tags)
			}
			if left, _ := os.ReadDir(dir); len(left) != 1 {
				t.Errorf("a failed import left %d entries in %s, want only nvd", len(left), dir)
			}
			if elsewhere != "" {
				if left, _ := os.ReadDir(elsewhere); len(left) != 0 {
					t.Errorf("the import wrote %d entries through the symlink", len(left))
				}
			}
		})
	}
}
