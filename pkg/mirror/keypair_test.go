package mirror_test

import (
	"bytes"
	"context"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stellaops/mirror/pkg/mirror"
)

// TestSignWarnsOfMismatchedPair: a keygen --force stopped between its two
// files leaves its new public key beside the old private key. sign with
// that key says so, naming the public key and what to do: signatures it
// makes would not verify with the .pub an operator hands to the far side.
// A pair that is one, or a key with no .pub beside it, draws no warning.
func TestSignWarnsOfMismatchedPair(t *testing.T) {
	priv, pub := testKeys(t, "cosign")
	_, otherPub := testKeys(t, "other")
	sign := func(t *testing.T) string {
		t.Helper()
		dir := t.TempDir()
		manifest := filepath.Join(dir, "manifest.json")
		if err := os.WriteFile(manifest, []byte("{}\n"), 0o644); err != nil {
			t.Fatal(err)
		}
		var logs bytes.Buffer
		_, err := mirror.Sign(context.Background(), mirror.SignOptions{Manifest: manifest, Key: priv, Password: testPass,
			Logger: slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelWarn}))})
		if err != nil {
			t.Fatal(err)
		}
		return logs.String()
	}
	if logs := sign(t); logs != "" {
		t.Errorf("a pair that is one: %s", logs)
	}
	// keygen --force stopped after the public key took its name.
	data, err := os.ReadFile(otherPub)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(pub, data, 0o644); err != nil {
		t.Fatal(err)
	}
	if logs := sign(t); !strings.Contains(logs, "level=WARN") || !strings.Contains(logs, pub) || !strings.Contains(logs, "keygen --force") {
		t.Errorf("the public key beside the signing key is another's: %q", logs)
	}
	if err := os.Remove(pub); err != nil {
		t.Fatal(err)
	}
	if logs := sign(t); logs != "" {
		t.Errorf("no public key beside the signing key: %s", logs)
	}
	// A FIFO where the public key would be: opening it for the check
	// would block sign until something wrote to it.
	if err := syscall.Mkfifo(pub, 0o644); err != nil {
		t.Skipf("mkfifo: %v", err)
	}
	done := make(chan string, 1)
	go func() { done <- sign(t) }()
	select {
	case logs := <-done:
		if logs != "" {
			t.Errorf("a FIFO beside the signing key: %s", logs)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("sign blocked on the FIFO beside the signing key")
	}
}
