package mirror_test

import (
	"bytes"
	"context"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"testing"

	"github.com/stellaops/mirror/pkg/keys"
	"github.com/stellaops/mirror/pkg/layout"
	"github.com/stellaops/mirror/pkg/mirror"
)

// signalHandler is a slog handler that closes a channel at the first record
// whose message is msg: a test's gate on "this run is now waiting".
type signalHandler struct {
	msg  string
	once *sync.Once
	ch   chan struct{}
}

func newSignal(msg string) (*slog.Logger, <-chan struct{}) {
	h := signalHandler{msg: msg, once: new(sync.Once), ch: make(chan struct{})}
	return slog.New(h), h.ch
}

func (h signalHandler) Enabled(context.Context, slog.Level) bool { return true }
func (h signalHandler) Handle(_ context.Context, r slog.Record) error {
	if r.Message == h.msg {
		h.once.Do(func() { close(h.ch) })
	}
	return nil
}
func (h signalHandler) WithAttrs([]slog.Attr) slog.Handler { return h }
func (h signalHandler) WithGroup(string) slog.Handler      { return h }

// checkKeyPair fails unless PREFIX.pub is the public key of PREFIX.key.
func checkKeyPair(t *testing.T, prefix string) {
	t.Helper()
	signer, err := keys.LoadSigner(context.Background(), prefix+".key", testPass)
	if err != nil {
		t.Fatal(err)
	}
	want, err := signer.PublicKeyPEM()
	if err != nil {
		t.Fatal(err)
	}
	if got, err := os.ReadFile(prefix + ".pub"); err != nil || !bytes.Equal(got, want) {
		t.Fatalf("%s.pub is not the public key of %s.key (%v)", prefix, prefix, err)
	}
}

// TestKeygenWaitsForAnotherWriter: two `keygen --force` at once renamed
// their public keys, then their private keys, each over the other's, so
// cosign.key could end up beside the other run's cosign.pub (signatures
// that no published key verifies). The pair is now placed under the
// directory's writers' lock: here the test holds it, as a run between its
// two renames would, and keygen waits for it, then places its pair whole.
func TestKeygenWaitsForAnotherWriter(t *testing.T) {
	dir := t.TempDir()
	prefix := filepath.Join(dir, "cosign")
	if _, err := mirror.Keygen(mirror.KeygenOptions{OutputPrefix: prefix, Password: testPass}); err != nil {
		t.Fatal(err)
	}
	oldKey, _ := os.ReadFile(prefix + ".key")
	oldPub, _ := os.ReadFile(prefix + ".pub")
	unlock, err := layout.LockDir(context.Background(), dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	log, waiting := newSignal("waiting for another stella process writing key files")
	type result struct {
		res *mirror.KeygenResult
		err error
	}
	done := make(chan result, 1)
	go func() {
		res, err := mirror.Keygen(mirror.KeygenOptions{OutputPrefix: prefix, Password: testPass, Force: true, Logger: log})
		done <- result{res, err}
	}()
	select {
	case <-waiting:
	case r := <-done:
		unlock()
		t.Fatalf("keygen wrote its pair while another process was writing one (err %v)", r.err)
	}
	if key, _ := os.ReadFile(prefix + ".key"); !bytes.Equal(key, oldKey) {
		t.Error("cosign.key replaced while another process held the directory")
	}
	if pub, _ := os.ReadFile(prefix + ".pub"); !bytes.Equal(pub, oldPub) {
		t.Error("cosign.pub replaced while another process held the directory")
	}
	unlock()
	r := <-done
	if r.err != nil {
		t.Fatal(r.err)
	}
	checkKeyPair(t, prefix)
	if pub, _ := os.ReadFile(prefix + ".pub"); bytes.Equal(pub, oldPub) {
		t.Error("keygen --force kept the old public key")
	}
}
