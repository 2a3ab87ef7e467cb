package layout

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stellaops/mirror/pkg/errdef"
)

// TestForceReplacesOnlyABundle: create --output DIR --force (and pull)
// removed whatever non-empty directory DIR named, once the new bundle was
// in place: a home directory or a USB stick's files given by mistake were
// gone. --force now replaces an empty directory or a bundle, and refuses
// any other, leaving it as it was. A bundle is a directory with oci-layout
// and manifest.json holding nothing a bundle does not: another tool's OCI
// layout (no manifest.json), or a bundle the operator put a file of their
// own in, was removed whole (found by review).
func TestForceReplacesOnlyABundle(t *testing.T) {
	commit := func(dest string) error {
		s, err := Stage(dest, true)
		if err != nil {
			return err
		}
		defer s.Abort()
		for _, name := range []string{OCILayoutFile, ManifestFile} {
			if err := os.WriteFile(filepath.Join(s.root, name), []byte(`{}`), 0o644); err != nil {
				t.Fatal(err)
			}
		}
		return s.Commit()
	}
	write := func(path, content string) {
		t.Helper()
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
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

	// Another tool's OCI layout (skopeo copy … oci:DIR), with a file of
	// the operator's beside it.
	layout := filepath.Join(parent, "oci")
	write(filepath.Join(layout, OCILayoutFile), `{"imageLayoutVersion":"1.0.0"}`)
	write(filepath.Join(layout, IndexFile), `{"schemaVersion":2,"manifests":[]}`)
	write(filepath.Join(layout, "thesis.txt"), "not part of any bundle")
	if err := commit(layout); !errors.Is(err, errdef.ErrExists) || !strings.Contains(err.Error(), "no "+ManifestFile) {
		t.Fatalf("--force over another tool's OCI layout: %v, want ErrExists naming the missing %s", err, ManifestFile)
	}
	if data, err := os.ReadFile(filepath.Join(layout, "thesis.txt")); err != nil || string(data) != "not part of any bundle" {
		t.Fatalf("the refused layout changed: %q, %v", data, err)
	}

	bundle := filepath.Join(parent, "bundle")
	if err := commit(bundle); err != nil {
		t.Fatal(err)
	}
	write(filepath.Join(bundle, BlobsDir, "sha256", "old"), "an old blob")
	write(filepath.Join(bundle, "advisories", "old.json"), "an old advisory")
	write(filepath.Join(bundle, ".manifest.dsse.tmp-123"), "a signing cut short")
	write(filepath.Join(bundle, "notes.txt"), "the operator's own")
	if err := commit(bundle); !errors.Is(err, errdef.ErrExists) || !strings.Contains(err.Error(), "holds notes.txt") {
		t.Fatalf("--force over a bundle holding a file of the operator's: %v, want ErrExists naming it", err)
	}
	if err := os.Remove(filepath.Join(bundle, "notes.txt")); err != nil {
		t.Fatalf("the refused bundle changed: %v", err)
	}
	if err := commit(bundle); err != nil {
		t.Fatalf("--force over a bundle: %v", err)
	}
	for _, old := range []string{BlobsDir + "/sha256/old", "advisories/old.json", ".manifest.dsse.tmp-123"} {
		if _, err := os.Stat(filepath.Join(bundle, old)); !os.IsNotExist(err) {
			t.Fatalf("the replaced bundle's %s is still there (stat: %v)", old, err)
		}
	}
	if entries, _ := os.ReadDir(parent); len(entries) != 3 {
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
		for _, name := range []string{OCILayoutFile, ManifestFile} {
			if err := os.WriteFile(filepath.Join(s.root, name), []byte(content), 0o644); err != nil {
				t.Fatal(err)
			}
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
