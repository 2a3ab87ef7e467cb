package cli

import (
	"bytes"
	"context"
	"io"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// TestLoginInterruptedReadingThePassword: Ctrl-C while login waits for the
// password on stdin (a terminal the user has not typed it into yet, a
// command before the pipe that has not written it) ends the run, exit
// 130, saving nothing. The read went on regardless of the interrupt, so
// Ctrl-C did nothing until a line or the end of stdin came.
func TestLoginInterruptedReadingThePassword(t *testing.T) {
	cfg := t.TempDir()
	t.Setenv("DOCKER_CONFIG", cfg)
	stdin, typed := io.Pipe()
	defer typed.Close()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var stdout, stderr bytes.Buffer
	done := make(chan int, 1)
	go func() {
		done <- Execute(ctx, []string{"mirror", "login", "127.0.0.1:1", "-u", "mirror", "--password-stdin", "--plain-http"}, stdin, &stdout, &stderr)
	}()
	time.Sleep(200 * time.Millisecond) // login is reading stdin
	cancel()                           // Ctrl-C
	select {
	case code := <-done:
		if code != ExitInterrupted {
			t.Errorf("login interrupted reading the password: exit %d, want %d\n%s", code, ExitInterrupted, stderr.String())
		}
	case <-time.After(10 * time.Second):
		typed.Write([]byte("secret\n")) // the user gives up and types it
		code := <-done
		t.Errorf("login interrupted reading the password went on reading; given a line, it exited %d", code)
	}
	if _, err := os.Lstat(filepath.Join(cfg, "config.json")); err == nil {
		t.Error("interrupted login wrote config.json")
	}
}
