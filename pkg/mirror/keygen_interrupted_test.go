package mirror_test

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/stellaops/mirror/pkg/mirror"
)

// TestKeygenInterruptedKeepsThePair: a keygen --force interrupted (Ctrl-C)
// while it makes the new key (the password read, scrypt working) writes
// nothing: the pair it was to replace stays, and no temporary file. It
// went on, replaced the pair, and reported success: an operator who saw
// the wrong prefix and pressed Ctrl-C lost the old private key for good.
func TestKeygenInterruptedKeepsThePair(t *testing.T) {
	dir := t.TempDir()
	prefix := filepath.Join(dir, "cosign")
	if _, err := mirror.Keygen(context.Background(), mirror.KeygenOptions{OutputPrefix: prefix, Password: testPass}); err != nil {
		t.Fatal(err)
	}
	oldKey, _ := os.ReadFile(prefix + ".key")
	oldPub, _ := os.ReadFile(prefix + ".pub")
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	interrupted := func() ([]byte, error) {
		cancel() // Ctrl-C, as the key is being made
		return testPass()
	}
	if _, err := mirror.Keygen(ctx, mirror.KeygenOptions{OutputPrefix: prefix, Password: interrupted, Force: true}); !errors.Is(err, context.Canceled) {
		t.Errorf("keygen --force interrupted: %v, want context.Canceled", err)
	}
	if key, _ := os.ReadFile(prefix + ".key"); !bytes.Equal(key, oldKey) {
		t.Error("interrupted keygen --force replaced cosign.key")
	}
	if pub, _ := os.ReadFile(prefix + ".pub"); !bytes.Equal(pub, oldPub) {
		t.Error("interrupted keygen --force replaced cosign.pub")
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 2 {
		t.Errorf("interrupted keygen left %d files beside the pair", len(entries)-2)
	}
}
