package mirror_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"syscall"
	"testing"

	"github.com/stellaops/mirror/pkg/keys"
	"github.com/stellaops/mirror/pkg/mirror"
)

// TestKeygenFailureKeepsOldKey: with --force, a public key that cannot be
// replaced (here a directory stands in its place) failed keygen only after
// the private key had been replaced, so the old private key was lost and
// the new one had no public key. Failing, keygen leaves the old private key
// as it was.
func TestKeygenFailureKeepsOldKey(t *testing.T) {
	prefix := filepath.Join(t.TempDir(), "k")
	if _, err := mirror.Keygen(context.Background(), mirror.KeygenOptions{OutputPrefix: prefix, Password: testPass}); err != nil {
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
	if _, err := mirror.Keygen(context.Background(), mirror.KeygenOptions{OutputPrefix: prefix, Password: testPass, Force: true}); err == nil {
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
	if _, err := mirror.Keygen(context.Background(), mirror.KeygenOptions{OutputPrefix: prefix, Password: testPass}); err != nil {
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
	if _, err := mirror.Keygen(context.Background(), mirror.KeygenOptions{OutputPrefix: prefix, Password: testPass, Force: true}); err == nil {
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

// TestKeygenSyncFailureKeepsAPair: with --force, a key file takes its
// name and the sync of its directory then fails (EIO): keygen fails, and
// the files on disk are a pair, the old one or the new one. After the
// private key's sync it put the old public key back beside the new private
// key, taking the failed sync for a private key never placed; after the
// public key's, it left the new public key beside the old private key. A
// pair so mixed signs what verifies with neither.
func TestKeygenSyncFailureKeepsAPair(t *testing.T) {
	for _, failing := range []int{1, 2} { // the public key's sync, the private key's
		t.Run(fmt.Sprint(failing), func(t *testing.T) {
			prefix := filepath.Join(t.TempDir(), "k")
			if _, err := mirror.Keygen(context.Background(), mirror.KeygenOptions{OutputPrefix: prefix, Password: testPass}); err != nil {
				t.Fatal(err)
			}
			syncs := 0
			mirror.SetSyncDirHook(t, func(string) error {
				if syncs++; syncs == failing {
					return syscall.EIO
				}
				return nil
			})
			if _, err := mirror.Keygen(context.Background(), mirror.KeygenOptions{OutputPrefix: prefix, Password: testPass, Force: true}); !errors.Is(err, syscall.EIO) {
				t.Fatalf("keygen with its directory's sync failing: %v", err)
			}
			signer, err := keys.LoadSigner(t.Context(), prefix+".key", testPass)
			if err != nil {
				t.Fatal(err)
			}
			pubs, err := keys.LoadVerifiers(t.Context(), prefix+".pub")
			if err != nil {
				t.Fatal(err)
			}
			if len(pubs) != 1 || pubs[0].KeyID() != signer.KeyID() {
				t.Errorf("k.pub is not the public key of k.key (%s)", signer.KeyID())
			}
		})
	}
}
