package layout

import (
	"errors"
	"os"
	"testing"

	"github.com/stellaops/mirror/pkg/errdef"
)

// TestStageRefusesDot: create --output . and pull REF . (the current or
// parent directory) are refused as usage errors, with or without --force,
// leaving nothing behind. Stage made its staging directory inside the
// destination, so the commit found it not empty, or with --force tried to
// rename "." itself (found by review).
func TestStageRefusesDot(t *testing.T) {
	dir := t.TempDir()
	t.Chdir(dir)
	for _, dest := range []string{".", "./", "..", "sub/..", "../.."} {
		for _, force := range []bool{false, true} {
			if _, err := Stage(dest, force); !errors.Is(err, errdef.ErrUsage) {
				t.Errorf("Stage(%q, force %v): %v, want a usage error", dest, force, err)
			}
		}
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 0 {
		t.Errorf("left behind: %v", entries)
	}
}
