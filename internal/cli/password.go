package cli

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"os"

	"golang.org/x/term"

	"github.com/stellaops/mirror/pkg/errdef"
	"github.com/stellaops/mirror/pkg/keys"
)

// passwordEnv holds the password of an encrypted key, as for cosign.
const passwordEnv = "COSIGN_PASSWORD"

// password returns where a key password comes from: COSIGN_PASSWORD when it
// is set (even empty, as cosign reads it), else a prompt on the terminal
// when stdin is one (twice with confirm), else an error. The password is
// never echoed, logged or put in an error. The prompt ends with ctx
// (Ctrl-C), the terminal's echo put back.
func (a *app) password(ctx context.Context, confirm bool) keys.PassFunc {
	return func() ([]byte, error) {
		if pw, ok := os.LookupEnv(passwordEnv); ok {
			return []byte(pw), nil
		}
		f, ok := a.stdin.(*os.File)
		if !ok || !term.IsTerminal(int(f.Fd())) {
			return nil, fmt.Errorf("the key needs a password: set %s (stdin is not a terminal to ask on): %w", passwordEnv, errdef.ErrUsage)
		}
		fmt.Fprint(a.stderr, "Enter password for private key: ")
		pw, err := readPassword(ctx, int(f.Fd()))
		fmt.Fprintln(a.stderr)
		if err != nil {
			return nil, fmt.Errorf("reading the password: %v: %w", err, errdef.ErrUsage)
		}
		if !confirm {
			return pw, nil
		}
		fmt.Fprint(a.stderr, "Enter password for private key again: ")
		again, err := readPassword(ctx, int(f.Fd()))
		fmt.Fprintln(a.stderr)
		defer clear(again)
		if err != nil {
			clear(pw)
			return nil, fmt.Errorf("reading the password: %v: %w", err, errdef.ErrUsage)
		}
		if !bytes.Equal(pw, again) {
			clear(pw)
			return nil, fmt.Errorf("the passwords do not match: %w", errdef.ErrUsage)
		}
		return pw, nil
	}
}

// readPassword is term.ReadPassword ended by ctx: Ctrl-C is caught for the
// run's context (main), so the terminal's own interrupt no longer ends a
// read. The terminal is put back as it was (echo on) and ctx's error
// returned; the read left behind ends with the process.
func readPassword(ctx context.Context, fd int) ([]byte, error) {
	// Interrupted already (Ctrl-C while the run was busy before it asked):
	// a read started now would turn the echo off after it was put back.
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	state, err := term.GetState(fd)
	if err != nil {
		return nil, err
	}
	type read struct {
		pw  []byte
		err error
	}
	done := make(chan read, 1)
	go func() {
		var r read
		defer func() { done <- r }()
		defer errdef.Recover(&r.err) // a bug: the read's error, not the process's end
		r.pw, r.err = term.ReadPassword(fd)
	}()
	select {
	case r := <-done:
		return r.pw, r.err
	case <-ctx.Done():
		term.Restore(fd, state)
		return nil, ctx.Err()
	}
}

// readLine reads a line of r (login's --password-stdin), its end or r's
// end, ended by ctx as readPassword is: a terminal the user has not typed
// into yet, or a command before the pipe that has not written, holds the
// read for as long as it likes.
func readLine(ctx context.Context, r io.Reader) (string, error) {
	type read struct {
		line string
		err  error
	}
	done := make(chan read, 1)
	go func() {
		var rd read
		defer func() { done <- rd }()
		defer errdef.Recover(&rd.err) // a bug: the read's error, not the process's end
		rd.line, rd.err = bufio.NewReader(r).ReadString('\n')
		if rd.err == io.EOF {
			rd.err = nil
		}
	}()
	select {
	case r := <-done:
		return r.line, r.err
	case <-ctx.Done():
		return "", ctx.Err()
	}
}
