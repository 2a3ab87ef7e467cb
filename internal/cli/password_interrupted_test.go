package cli

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/term"
)

// TestPasswordPromptInterrupted: Ctrl-C at the password prompt (keygen's,
// as sign's and every command's that opens an encrypted key) ends the run,
// exit 130, writing nothing, with the terminal's echo back on. The prompt
// read on regardless of the interrupt, so Ctrl-C did nothing; Enter twice
// then wrote a key pair with an empty password and exited 0.
func TestPasswordPromptInterrupted(t *testing.T) {
	t.Setenv(passwordEnv, "")
	os.Unsetenv(passwordEnv) // no password in the environment: the prompt asks
	ptmx, tty, echoing := echoingTerminal(t)
	dir := t.TempDir()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	stderr := &waitWriter{msg: "Enter password for private key: ", seen: make(chan struct{})}
	done := make(chan int, 1)
	go func() {
		var stdout bytes.Buffer
		done <- Execute(ctx, []string{"mirror", "keygen", "--output-key-prefix", filepath.Join(dir, "cosign")}, tty, &stdout, stderr)
	}()
	select {
	case <-stderr.seen:
	case code := <-done:
		t.Fatalf("keygen did not ask for a password: exit %d\n%s", code, stderr.buf.String())
	case <-time.After(30 * time.Second):
		t.Fatal("keygen did not ask for a password")
	}
	// The prompt has turned echo off: it reads.
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(5 * time.Millisecond) {
		if now, err := term.GetState(int(tty.Fd())); err == nil && *now != *echoing {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the password prompt did not turn the terminal's echo off")
		}
	}
	cancel() // Ctrl-C
	select {
	case code := <-done:
		if code != ExitInterrupted || !strings.Contains(stderr.buf.String(), "stella: interrupted") {
			t.Errorf("keygen interrupted at the password prompt: exit %d, want %d\n%s", code, ExitInterrupted, stderr.buf.String())
		}
	case <-time.After(10 * time.Second):
		ptmx.Write([]byte("\n\n")) // the user gives up and presses Enter
		code := <-done
		t.Errorf("keygen interrupted at the password prompt went on reading; given Enter twice, it exited %d\n%s", code, stderr.buf.String())
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 0 {
		t.Errorf("keygen interrupted at the password prompt wrote %d files", len(entries))
	}
	now, err := term.GetState(int(tty.Fd()))
	if err != nil {
		t.Fatal(err)
	}
	if *now != *echoing {
		t.Error("keygen interrupted at the password prompt left the terminal's echo off")
	}
}
