package cli

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stellaops/mirror/pkg/layout"
)

// waitWriter is a stderr that closes seen once a line holding msg is written.
type waitWriter struct {
	mu   sync.Mutex
	buf  bytes.Buffer
	msg  string
	seen chan struct{}
	once sync.Once
}

func (w *waitWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.buf.Write(p)
	if strings.Contains(w.buf.String(), w.msg) {
		w.once.Do(func() { close(w.seen) })
	}
	return len(p), nil
}

// TestKeygenInterruptedWaitingForTheLock: a keygen waiting for another
// stella process's writers' lock of the key directory (one stopped with
// Ctrl-Z holds it for good) ends on Ctrl-C, exit 130, writing no key. It
// waited on regardless of the interrupt: Ctrl-C did nothing, and once the
// lock was let go it wrote the pair and exited 0.
func TestKeygenInterruptedWaitingForTheLock(t *testing.T) {
	t.Setenv("COSIGN_PASSWORD", "x")
	dir := t.TempDir()
	unlock, err := layout.LockDir(context.Background(), dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer unlock()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	stderr := &waitWriter{msg: "waiting for another stella process writing there", seen: make(chan struct{})}
	done := make(chan int, 1)
	go func() {
		var stdout bytes.Buffer
		done <- Execute(ctx, []string{"mirror", "keygen", "--output-key-prefix", filepath.Join(dir, "cosign")}, strings.NewReader(""), &stdout, stderr)
	}()
	select {
	case <-stderr.seen:
	case code := <-done:
		t.Fatalf("keygen did not wait for the lock: exit %d\n%s", code, stderr.buf.String())
	case <-time.After(30 * time.Second):
		t.Fatal("keygen neither waited nor ended")
	}
	cancel() // Ctrl-C
	select {
	case code := <-done:
		if code != ExitInterrupted {
			t.Errorf("keygen interrupted while waiting: exit %d, want %d\n%s", code, ExitInterrupted, stderr.buf.String())
		}
	case <-time.After(10 * time.Second):
		unlock()
		code := <-done
		t.Errorf("keygen interrupted while waiting for the lock went on waiting; let go, it exited %d", code)
	}
	for _, name := range []string{"cosign.key", "cosign.pub"} {
		if _, err := os.Lstat(filepath.Join(dir, name)); err == nil {
			t.Errorf("interrupted keygen wrote %s", name)
		}
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 0 {
		t.Errorf("interrupted keygen left %d files", len(entries))
	}
}
