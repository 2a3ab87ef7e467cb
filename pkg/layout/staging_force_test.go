package layout

import (
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/stellaops/mirror/pkg/errdef"
)

// TestForceReplacesOnlyABundle: create --output DIR --force (and pull)
// removed whatever non-empty directory DIR named, once the new bundle was
// in place: a home directory or a USB stick's files given by mistake were
// gone. --force now replaces an empty directory or a bundle (one with
// oci-layout), and refuses any other, leaving it as it was.
func TestForceReplacesOnlyABundle(t *testing.T) {
	commit := func(dest string) error {
		s, err := Stage(dest, true)
		if err != nil {
			return err
		}
		defer s.Abort()
		if err := os.WriteFile(filepath.Join(s.root, OCILayoutFile), []byte(`{"imageLayoutVersion":"1.0.0"}`), 0o644); err != nil {
			t.Fatal(err)
		}
		return s.Commit()
	}
	parent := t.TempDir()

	files := filepath.Join(parent, "photos")
	if err := os.MkdirAll(filepath.Join(files, "2026"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(files, "2026", "a.jpg"), []byte("a photo"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := commit(files); !errors.Is(err, errdef.ErrExists) {
		t.Fatalf("--force over a directory of other files: %v, want ErrExists", err)
	}
	if data, err := os.ReadFile(filepath.Join(files, "2026", "a.jpg")); err != nil || string(data) != "a photo" {
		t.Fatalf("the refused directory changed: %q, %v", data, err)
	}

	bundle := filepath.Join(parent, "bundle")
	if err := commit(bundle); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(bundle, "old"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := commit(bundle); err != nil {
		t.Fatalf("--force over a bundle: %v", err)
	}
	if _, err := os.Stat(filepath.Join(bundle, "old")); !os.IsNotExist(err) {
		t.Fatalf("the replaced bundle's files are still there (stat: %v)", err)
	}
	if entries, _ := os.ReadDir(parent); len(entries) != 2 {
		t.Fatalf("left beside the outputs: %v", entries)
	}
}

// TestForceReplacesInOneStep: replacing a bundle swaps the new directory
// with the old in one step (Linux's RENAME_EXCHANGE), so there is no
// moment, and after a crash no state, with no bundle at the destination.
// It used to move the old bundle aside and then the new one in: the path
// the aside step would take is blocked here, so only a one-step swap
// succeeds.
func TestForceReplacesInOneStep(t *testing.T) {
	if exchange(t.TempDir(), t.TempDir()) != nil {
		t.Skip("this file system cannot exchange directories; Commit takes two renames")
	}
	dest := filepath.Join(t.TempDir(), "bundle")
	for i, content := range []string{"first", "second"} {
		s, err := Stage(dest, true)
		if err != nil {
			t.Fatal(err)
		}
		defer s.Abort()
		if err := os.WriteFile(filepath.Join(s.root, OCILayoutFile), []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
		if i == 1 {
			aside := s.root + ".old"
			if err := os.MkdirAll(filepath.Join(aside, "blocked"), 0o755); err != nil {
				t.Fatal(err)
			}
			defer os.RemoveAll(aside)
		}
		if err := s.Commit(); err != nil {
			t.Fatalf("commit %d: %v", i, err)
		}
	}
	if data, _ := os.ReadFile(filepath.Join(dest, OCILayoutFile)); string(data) != "second" {
		t.Fatalf("destination holds %q, want the second bundle", data)
	}
	entries, _ := os.ReadDir(filepath.Dir(dest))
	if len(entries) != 2 { // the bundle, and the blocked aside path
		t.Fatalf("left beside the output: %v", entries)
	}
}
