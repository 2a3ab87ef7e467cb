package main

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"
)

// TestProfileRefusesExistingFile: STELLA_CPUPROFILE and STELLA_MEMPROFILE
// truncated whatever file they named, a bundle archive given by mistake
// among them; an existing file is refused, left as it was, and a new one
// is made (found by review).
func TestProfileRefusesExistingFile(t *testing.T) {
	dir := t.TempDir()
	bundle := filepath.Join(dir, "bundle.tar")
	want := []byte("the only copy of a bundle")
	if err := os.WriteFile(bundle, want, 0o644); err != nil {
		t.Fatal(err)
	}
	if f, err := createProfile(bundle); err == nil {
		f.Close()
		t.Error("an existing file was opened for the profile")
	}
	if got, _ := os.ReadFile(bundle); !bytes.Equal(got, want) {
		t.Errorf("%s holds %q, want %q", bundle, got, want)
	}
	f, err := createProfile(filepath.Join(dir, "cpu.out"))
	if err != nil {
		t.Fatal(err)
	}
	f.Close()
}
