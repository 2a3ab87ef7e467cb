package cli

import (
	"context"
	"os"
	"testing"
	"time"

	"github.com/creack/pty"
	"golang.org/x/term"
)

// TestPasswordPromptInterruptedBeforeEchoOff: Ctrl-C that comes before the
// prompt's read has turned the terminal's echo off (pressed while the
// command was still busy before it asked, or just as it asks) left the
// echo off for good once the run ended: the echo was put back, and then
// the read, let go on its own, turned it off (found by review).
func TestPasswordPromptInterruptedBeforeEchoOff(t *testing.T) {
	_, tty, echoing := echoingTerminal(t)
	ctx, cancel := context.WithCancel(context.Background())
	cancel() // Ctrl-C already pressed
	if _, err := readPassword(ctx, int(tty.Fd())); err == nil {
		t.Fatal("readPassword of an interrupted run: no error")
	}
	time.Sleep(200 * time.Millisecond) // the run ends; nothing may touch the terminal after
	now, err := term.GetState(int(tty.Fd()))
	if err != nil {
		t.Fatal(err)
	}
	if *now != *echoing {
		t.Error("a password prompt interrupted before it read left the terminal's echo off")
	}
}

// echoingTerminal opens a pseudo-terminal, closed at the test's end, and
// returns its two ends and the state of its echo as opened; the test is
// skipped where there is none.
func echoingTerminal(t *testing.T) (ptmx, tty *os.File, echoing *term.State) {
	t.Helper()
	ptmx, tty, err := pty.Open()
	if err != nil {
		t.Skipf("no pseudo-terminal: %v", err)
	}
	t.Cleanup(func() {
		tty.Close()
		ptmx.Close()
	})
	echoing, err = term.GetState(int(tty.Fd()))
	if err != nil {
		t.Fatal(err)
	}
	return ptmx, tty, echoing
}
