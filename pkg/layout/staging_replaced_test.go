package layout

import (
	"os"
	"path/filepath"
	"testing"
)

// TestStageRecoversAReplaceCutShort: where the system cannot exchange two
// directories, Commit replaces a bundle in two renames, the old one aside
// (.DEST.tmp-N.old) then the new one in, and removes the old one last. A
// process killed between the two left no bundle at DEST, and the next
// create or pull onto it removed the new one as abandoned staging and left
// the old one hidden beside it for good, named nowhere; killed after the
// second, the old one stayed there for good, as large as the bundle. The
// next Stage of DEST now puts the old one back where no bundle took its
// place, and removes it where the new one did.
func TestStageRecoversAReplaceCutShort(t *testing.T) {
	write := func(dir, content string) {
		t.Helper()
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		for _, name := range []string{OCILayoutFile, ManifestFile} {
			if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o644); err != nil {
				t.Fatal(err)
			}
		}
	}
	left := func(parent string) []string {
		t.Helper()
		entries, err := os.ReadDir(parent)
		if err != nil {
			t.Fatal(err)
		}
		var names []string
		for _, e := range entries {
			names = append(names, e.Name())
		}
		return names
	}

	t.Run("killed between the renames", func(t *testing.T) {
		parent := t.TempDir()
		dest := filepath.Join(parent, "bundle")
		write(filepath.Join(parent, ".bundle.tmp-123.old"), "old")
		write(filepath.Join(parent, ".bundle.tmp-123"), "new")
		s, err := Stage(dest, true)
		if err != nil {
			t.Fatal(err)
		}
		s.Abort() // the new run fails too: the old bundle must be there
		if data, err := os.ReadFile(filepath.Join(dest, OCILayoutFile)); err != nil || string(data) != "old" {
			t.Fatalf("after a replace cut short and a failed run, %s holds %q (%v), want the old bundle back", dest, data, err)
		}
		if names := left(parent); len(names) != 1 {
			t.Fatalf("left beside the bundle: %v", names)
		}
	})

	t.Run("killed before the old one was removed", func(t *testing.T) {
		parent := t.TempDir()
		dest := filepath.Join(parent, "bundle")
		write(dest, "new")
		write(filepath.Join(parent, ".bundle.tmp-123.old"), "old")
		s, err := Stage(dest, true)
		if err != nil {
			t.Fatal(err)
		}
		s.Abort()
		if data, err := os.ReadFile(filepath.Join(dest, OCILayoutFile)); err != nil || string(data) != "new" {
			t.Fatalf("%s holds %q (%v), want the new bundle", dest, data, err)
		}
		if names := left(parent); len(names) != 1 {
			t.Fatalf("left beside the bundle: %v", names)
		}
	})
}
