package layout

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stellaops/mirror/pkg/errdef"
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

// TestOpenNamesTheBundleAside: a command reading a bundle directory that a
// replace cut short between its two renames left missing said only "not a
// bundle directory (no oci-layout)": nothing named where the bundle it held
// was (.DEST.tmp-N.old, hidden). It now names it, and how to get it back.
func TestOpenNamesTheBundleAside(t *testing.T) {
	parent := t.TempDir()
	aside := filepath.Join(parent, ".bundle.tmp-123.old")
	if err := os.MkdirAll(aside, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(aside, OCILayoutFile), []byte("{}"), 0o644); err != nil {
		t.Fatal(err)
	}
	_, err := Open(filepath.Join(parent, "bundle"))
	if !errors.Is(err, errdef.ErrNotFound) || !strings.Contains(err.Error(), aside) {
		t.Fatalf("open of a bundle left aside by a replace cut short: %v, want not found naming %s", err, aside)
	}
}

// TestNotThereNamesTheBundleAside: NotThere, the error of a path that is
// not there (inspect, import, push, verify DIR/manifest.dsse), names the
// bundle a replace cut short left aside, for the directory and a file of it.
func TestNotThereNamesTheBundleAside(t *testing.T) {
	parent := t.TempDir()
	aside := filepath.Join(parent, ".bundle.tmp-7.old")
	if err := os.MkdirAll(aside, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(aside, OCILayoutFile), []byte("{}"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{filepath.Join(parent, "bundle"), filepath.Join(parent, "bundle", EnvelopeFile)} {
		if err := NotThere(p); !errors.Is(err, errdef.ErrNotFound) || !strings.Contains(err.Error(), aside) {
			t.Errorf("%s: %v, want not found naming %s", p, err, aside)
		}
	}
	if err := NotThere(filepath.Join(parent, "other")); !errors.Is(err, errdef.ErrNotFound) || strings.Contains(err.Error(), aside) {
		t.Errorf("another path: %v", err)
	}
}

// TestStageSaysTheBundleWasPutBack: a create or pull without --force onto
// a bundle directory a replace cut short left missing (the user saw no
// bundle there) put the old bundle back, then refused it as "already
// exists and is not empty (use --force to replace it)", with no word that
// it had just put a bundle back there. The refusal now says so.
func TestStageSaysTheBundleWasPutBack(t *testing.T) {
	parent := t.TempDir()
	dest := filepath.Join(parent, "bundle")
	for _, dir := range []string{filepath.Join(parent, ".bundle.tmp-123.old"), filepath.Join(parent, ".bundle.tmp-123")} {
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		for _, name := range []string{OCILayoutFile, ManifestFile} {
			if err := os.WriteFile(filepath.Join(dir, name), []byte("{}"), 0o644); err != nil {
				t.Fatal(err)
			}
		}
	}
	s, err := Stage(dest, false)
	if err == nil {
		s.Abort()
		t.Fatal("Stage without force onto the bundle put back: no error")
	}
	if !errors.Is(err, errdef.ErrExists) || !strings.Contains(err.Error(), "put back") || strings.Count(err.Error(), "\n") != 0 {
		t.Fatalf("Stage without force onto the bundle put back: %v, want exists saying the bundle was put back", err)
	}
	if _, err := os.Stat(filepath.Join(dest, OCILayoutFile)); err != nil {
		t.Fatalf("the old bundle is not back: %v", err)
	}
}

// TestCommitKeepsTheNewBundleWhenTheOldStays: a Commit whose new bundle is
// in place but whose removal of the one it replaced fails (EIO, a file of
// it the user may not remove) returned that error, so create and pull
// exited non-zero, as if no bundle were written, with the new one at the
// output. Commit now succeeds and LeftBehind names what stays, for the
// command to warn of.
func TestCommitKeepsTheNewBundleWhenTheOldStays(t *testing.T) {
	parent := t.TempDir()
	dest := filepath.Join(parent, "bundle")
	for _, content := range []string{"old", "new"} {
		s, err := Stage(dest, true)
		if err != nil {
			t.Fatal(err)
		}
		for _, name := range []string{OCILayoutFile, ManifestFile} {
			if err := os.WriteFile(filepath.Join(s.root, name), []byte(content), 0o644); err != nil {
				t.Fatal(err)
			}
		}
		if content == "new" {
			removeReplaced = func(string) error { return errors.New("input/output error") }
			t.Cleanup(func() { removeReplaced = os.RemoveAll })
		}
		err = s.Commit()
		left := s.LeftBehind()
		s.Abort()
		if err != nil {
			t.Fatalf("commit of the %s bundle: %v", content, err)
		}
		if content == "new" && (left == nil || !strings.Contains(left.Error(), parent) || !strings.Contains(left.Error(), "input/output error")) {
			t.Fatalf("the old bundle left behind: %v, want its path and the error", left)
		}
	}
	if data, err := os.ReadFile(filepath.Join(dest, OCILayoutFile)); err != nil || string(data) != "new" {
		t.Fatalf("%s holds %q (%v), want the new bundle", dest, data, err)
	}
}
