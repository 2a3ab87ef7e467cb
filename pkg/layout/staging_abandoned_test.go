//go:build unix

package layout

import (
	"os"
	"path/filepath"
	"testing"
)

// TestStageRemovesAbandonedStaging: a staging directory whose process
// died (its lock gone with it) is removed by the next Stage of the same
// destination; one a live Staging holds is not, nor a replaced bundle's
// .old, nor another destination's.
func TestStageRemovesAbandonedStaging(t *testing.T) {
	parent := t.TempDir()
	dest := filepath.Join(parent, "bundle")
	live, err := Stage(dest, false)
	if err != nil {
		t.Fatal(err)
	}
	defer live.Abort()
	dead, err := Stage(dest, false)
	if err != nil {
		t.Fatal(err)
	}
	os.WriteFile(filepath.Join(dead.Path(), "blob"), []byte("x"), 0o644)
	dead.lock.Close() // as the process's end would
	kept := []string{".bundle.tmp-1.old", ".other.tmp-1", ".bundle.tmp-x"}
	for _, name := range kept {
		if err := os.Mkdir(filepath.Join(parent, name), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	s, err := Stage(dest, false)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Abort()
	if _, err := os.Stat(dead.Path()); !os.IsNotExist(err) {
		t.Errorf("abandoned staging %s: not removed (%v)", dead.Path(), err)
	}
	for _, p := range append([]string{live.Path()}, kept...) {
		if !filepath.IsAbs(p) {
			p = filepath.Join(parent, p)
		}
		if _, err := os.Stat(p); err != nil {
			t.Errorf("%s: %v", p, err)
		}
	}
}
