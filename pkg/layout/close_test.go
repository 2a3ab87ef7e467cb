package layout

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"
)

// openDescriptors counts the process's open descriptors.
func openDescriptors(t *testing.T) int {
	t.Helper()
	e, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Skip("no /proc/self/fd")
	}
	return len(e)
}

// TestDirCloseReleasesHandles: a Dir keeps handles of the directories it
// read through (up to maxCachedDirs and three); they were released only
// when the Dir was collected, so a process running one operation after
// another, making little garbage, ran out of descriptors
// (TestManyAdvisoriesFewDescriptors, once canonical JSON stopped making
// garbage). Close releases them, and the Dir still reads after it.
func TestDirCloseReleasesHandles(t *testing.T) {
	root := t.TempDir()
	if err := os.WriteFile(filepath.Join(root, OCILayoutFile), ociLayoutContent, 0o644); err != nil {
		t.Fatal(err)
	}
	const dirs = 40
	for i := range dirs {
		d := filepath.Join(root, "advisories", fmt.Sprintf("p%02d", i))
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(d, "a.json"), []byte("{}"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	d, err := Open(root)
	if err != nil {
		t.Fatal(err)
	}
	read := func() {
		for i := range dirs {
			if _, err := d.ReadFile(fmt.Sprintf("advisories/p%02d/a.json", i)); err != nil {
				t.Fatal(err)
			}
		}
	}
	before := openDescriptors(t)
	read()
	if held := openDescriptors(t) - before; held < dirs {
		t.Fatalf("%d handles held after reading through %d directories, want them kept", held, dirs)
	}
	if err := d.Close(); err != nil {
		t.Fatal(err)
	}
	if held := openDescriptors(t) - before; held != 0 {
		t.Errorf("%d handles held after Close", held)
	}
	read()
	if held := openDescriptors(t) - before; held != 0 {
		t.Errorf("%d handles held by reads after Close", held)
	}
}
