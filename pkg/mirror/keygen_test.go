package mirror_test

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"

	"github.com/stellaops/mirror/pkg/mirror"
)

// TestKeygenFailureKeepsOldKey: with --force, a public key that cannot be
// replaced (here a directory stands in its place) failed keygen only after
// the private key had been replaced, so the old private key was lost and
// the new one had no public key. Failing, keygen leaves the old private key
// as it was.
func TestKeygenFailureKeepsOldKey(t *testing.T) {
	prefix := filepath.Join(t.TempDir(), "k")
	if _, err := mirror.Keygen(mirror.KeygenOptions{OutputPrefix: prefix, Password: testPass}); err != nil {
		t.Fatal(err)
	}
	old, err := os.ReadFile(prefix + ".key")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.Remove(prefix + ".pub"); err != nil {
		t.Fatal(err)
	}
	if err := os.Mkdir(prefix+".pub", 0o755); err != nil {
		t.Fatal(err)
	}
	if _, err := mirror.Keygen(mirror.KeygenOptions{OutputPrefix: prefix, Password: testPass, Force: true}); err == nil {
		t.Fatal("keygen over a directory: no error")
	}
	if now, err := os.ReadFile(prefix + ".key"); err != nil || !bytes.Equal(now, old) {
		t.Errorf("the private key was replaced by a failed keygen (%v)", err)
	}
	entries, _ := os.ReadDir(filepath.Dir(prefix))
	if len(entries) != 2 {
		t.Errorf("left behind: %v", entries)
	}
}

// TestKeygenFailureKeepsOldPair: with --force, a private key that cannot
// be placed (here a directory stands in its place, as EIO or a full disk
// would stop it) failed keygen after the public key had been replaced: the
// new public key, of a private key kept nowhere, stayed beside the old
// one. Failing, keygen puts the old public key back.
func TestKeygenFailureKeepsOldPair(t *testing.T) {
	prefix := filepath.Join(t.TempDir(), "k")
	if _, err := mirror.Keygen(mirror.KeygenOptions{OutputPrefix: prefix, Password: testPass}); err != nil {
		t.Fatal(err)
	}
	old, err := os.ReadFile(prefix + ".pub")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.Remove(prefix + ".key"); err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Join(prefix+".key", "x"), 0o755); err != nil {
		t.Fatal(err)
	}
	if _, err := mirror.Keygen(mirror.KeygenOptions{OutputPrefix: prefix, Password: testPass, Force: true}); err == nil {
		t.Fatal("keygen over a directory: no error")
	}
	if now, err := os.ReadFile(prefix + ".pub"); err != nil || !bytes.Equal(now, old) {
		t.Errorf("a failed keygen left a public key of a private key kept nowhere (%v)", err)
	}
	entries, _ := os.ReadDir(filepath.Dir(prefix))
	if len(entries) != 2 {
		t.Errorf("left behind: %v", entries)
	}
}
