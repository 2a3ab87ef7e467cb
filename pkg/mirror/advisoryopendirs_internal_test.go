package mirror

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"
)

// TestAdvisoryDirsKeptBounded: the directories an import keeps open stay
// within maxOpenAdvisoryDirs however many it writes in; one in use is
// never closed under its user (the least recently used one not in use
// goes), nor one forgotten until its user is done.
func TestAdvisoryDirsKeptBounded(t *testing.T) {
	a, err := openAdvisoryDir(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	held, err := a.openDir("held/deep", true)
	if err != nil || held == nil {
		t.Fatalf("openDir: %v", err)
	}
	for i := range 3 * maxOpenAdvisoryDirs {
		d, err := a.openDir(fmt.Sprintf("feed/%03d", i), true)
		if err != nil || d == nil {
			t.Fatalf("openDir feed/%03d: %v", i, err)
		}
		a.release(d)
		if len(a.dirs) > maxOpenAdvisoryDirs {
			t.Fatalf("%d directories kept open, bound %d", len(a.dirs), maxOpenAdvisoryDirs)
		}
	}
	if _, err := held.r.Lstat("."); err != nil {
		t.Fatalf("directory in use was closed: %v", err)
	}
	a.forget("held/deep")
	if _, err := held.r.Lstat("."); err != nil {
		t.Fatalf("forgotten directory closed while in use: %v", err)
	}
	a.release(held)
	if _, err := held.r.Lstat("."); err == nil {
		t.Fatal("forgotten directory still open once its user was done")
	}
}

// TestAdvisoryDirRemovedMeanwhile: a directory kept open that another
// import removes (its last advisory withdrawn) and that is then needed
// again is made anew and written in, not the removed one (where creating a
// file fails).
func TestAdvisoryDirRemovedMeanwhile(t *testing.T) {
	dir := t.TempDir()
	a, err := openAdvisoryDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	d, err := a.openDir("osv/pkg", true)
	if err != nil || d == nil {
		t.Fatalf("openDir: %v", err)
	}
	a.release(d)
	if err := os.RemoveAll(filepath.Join(dir, "osv")); err != nil {
		t.Fatal(err)
	}
	f, err := a.createTemp("osv/pkg/.a.json.tmp-1-000000000000")
	if err != nil {
		t.Fatalf("createTemp in a directory removed meanwhile: %v", err)
	}
	f.Close()
	if _, err := os.Stat(filepath.Join(dir, "osv", "pkg", ".a.json.tmp-1-000000000000")); err != nil {
		t.Fatalf("not written where the directory is now: %v", err)
	}
	if st, err := a.lstat("osv/pkg/.a.json.tmp-1-000000000000"); err != nil || !st.Mode().IsRegular() {
		t.Fatalf("lstat through the directory made anew: %v", err)
	}
}

// TestAdvisoryDirMovedOutMeanwhile: a directory kept open that a hand
// moves out of the advisories directory during the import has no advisory
// renamed into it there: the rename goes by the path again (and fails,
// the temporary file being gone from it), as it did before directories
// were kept.
func TestAdvisoryDirMovedOutMeanwhile(t *testing.T) {
	dir, elsewhere := t.TempDir(), t.TempDir()
	a, err := openAdvisoryDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	const tmp, name = "osv/pkg/.a.json.tmp-1-000000000000", "osv/pkg/a.json"
	f, err := a.createTemp(tmp)
	if err != nil {
		t.Fatal(err)
	}
	f.Close()
	if err := os.Rename(filepath.Join(dir, "osv"), filepath.Join(elsewhere, "osv")); err != nil {
		t.Fatal(err)
	}
	a.recheckDirs()
	if err := a.rename(tmp, name); err == nil {
		t.Error("rename through a directory moved out of the advisories directory succeeded")
	}
	if _, err := os.Stat(filepath.Join(elsewhere, "osv", "pkg", "a.json")); err == nil {
		t.Error("advisory renamed into place outside the advisories directory")
	}
}
