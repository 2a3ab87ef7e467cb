package layout

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"
)

// TestSplitCommitStoppedRemovingOldVolumes writes 2 volumes over a set of
// 6 and stops the commit as it removes the old set's last 4 (b.tar.003, a
// directory for the test, cannot be removed; a kill or EIO stops it
// likewise), then commits the same set again once it can. Every old
// volume past the new set is gone. Removed first to last, the first commit
// left a gap (b.tar.002 gone) before the rest, where the next stopped: the
// old b.tar.004 and b.tar.005 stayed beside the new set for good.
func TestSplitCommitStoppedRemovingOldVolumes(t *testing.T) {
	dir := t.TempDir()
	data := bytes.Repeat([]byte("v"), 6*100)
	writeVolumes(t, dir, data, 100)
	blocker := filepath.Join(dir, "b.tar.003")
	if err := os.Remove(blocker); err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Join(blocker, "x"), 0o755); err != nil {
		t.Fatal(err)
	}
	commit := func() error {
		w := NewSplitWriter(filepath.Join(dir, "b.tar"), 100)
		if _, err := w.Write(data[:200]); err != nil {
			t.Fatal(err)
		}
		if _, err := w.Finish(); err != nil {
			t.Fatal(err)
		}
		return w.Commit()
	}
	if err := commit(); err == nil {
		t.Fatal("the commit removed a directory it cannot remove")
	}
	if err := os.RemoveAll(blocker); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(blocker, data[:100], 0o644); err != nil {
		t.Fatal(err)
	}
	if err := commit(); err != nil {
		t.Fatal(err)
	}
	for i := 2; i < 6; i++ {
		if _, err := os.Lstat(filepath.Join(dir, VolumeName("b.tar", i))); err == nil {
			t.Errorf("the old set's %s is still beside the new set of 2", VolumeName("b.tar", i))
		}
	}
}
