//go:build unix

package mirror_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stellaops/mirror/internal/sample"
	"github.com/stellaops/mirror/pkg/errdef"
	"github.com/stellaops/mirror/pkg/mirror"
)

// openers are the commands that open a bundle archive by path: serve,
// verify and inspect (import opens it as inspect does).
func openers(s *servedSample) map[string]func(ctx context.Context, path string) error {
	return map[string]func(ctx context.Context, path string) error{
		"serve": func(ctx context.Context, path string) error {
			b, err := mirror.OpenServed(ctx, s.serveOpts(path))
			if err == nil {
				b.Close()
			}
			return err
		},
		"verify": func(ctx context.Context, path string) error {
			_, err := mirror.Verify(ctx, mirror.VerifyOptions{Envelope: path, Trust: trustKeys(s.pub), Now: fixedTime.Add(time.Hour)})
			return err
		},
		"inspect": func(ctx context.Context, path string) error {
			_, err := mirror.InspectWith(ctx, mirror.InspectOptions{Source: path, Now: fixedTime.Add(time.Hour)})
			return err
		},
	}
}

// mkfifo makes a named pipe at path, and, when the test ends, opens it for
// writing and closes it, which ends an open or a read blocked on it, so a
// failing test does not leave its goroutine hung.
func mkfifo(t *testing.T, path string) {
	t.Helper()
	if err := syscall.Mkfifo(path, 0o600); err != nil {
		t.Skip("no named pipes here:", err)
	}
	t.Cleanup(func() { unblockFIFO(path) })
}

// unblockFIFO opens the pipe at path read-write (which never blocks) and
// closes it: a reader blocked in open is let through and then reads EOF.
func unblockFIFO(path string) {
	if w, err := os.OpenFile(path, os.O_RDWR, 0); err == nil {
		w.Close()
	}
}

// within runs open and returns its error, failing the test if it has not
// returned after 10 seconds (blocked in open(2) on the pipe fifo, which
// it then unblocks).
func within(t *testing.T, fifo string, open func() error) error {
	t.Helper()
	done := make(chan error, 1)
	go func() { done <- open() }()
	select {
	case err := <-done:
		return err
	case <-time.After(10 * time.Second):
		unblockFIFO(fifo)
		t.Fatalf("still blocked on the named pipe %s after 10s (an open without O_NONBLOCK: Ctrl-C does not end it)", fifo)
		return nil
	}
}

// TestArchiveNamedPipeRefused: an operator who gives serve, verify or
// inspect a named pipe where the bundle archive goes (a process
// substitution, a FIFO left by a copy script) must be told at once that it
// is not a regular file (exit 1, naming it): the open blocked until a
// writer came, and Ctrl-C and SIGTERM could not end the command.
func TestArchiveNamedPipeRefused(t *testing.T) {
	s := newServedSample(t, sample.Spec{})
	for name, open := range openers(s) {
		t.Run(name, func(t *testing.T) {
			fifo := filepath.Join(t.TempDir(), "bundle.tar")
			mkfifo(t, fifo)
			err := within(t, fifo, func() error { return open(context.Background(), fifo) })
			if !errors.Is(err, errdef.ErrUsage) || !strings.Contains(err.Error(), fifo) || !strings.Contains(err.Error(), "not a regular file") {
				t.Errorf("%s of a named pipe: %v, want errdef.ErrUsage naming %s as not a regular file", name, err, fifo)
			}
		})
	}
}

// TestVolumeNamedPipeRefused: a volume of a split archive that is a named
// pipe is told as not a regular file (exit 11, naming it) by every command,
// as verify-checksums and the files of a bundle directory tell one; verify
// and inspect said it had 0 bytes (exit 2, a truncated copy), sending the
// operator to copy it again.
func TestVolumeNamedPipeRefused(t *testing.T) {
	s := newServedSample(t, sample.Spec{})
	out := filepath.Join(t.TempDir(), "bundle.tar.zst")
	res, err := mirror.Pack(context.Background(), mirror.PackOptions{Dir: s.dir, Output: out, Split: 256 << 10, Key: s.priv, Password: testPass})
	if err != nil {
		t.Fatal(err)
	}
	vol := filepath.Join(filepath.Dir(out), res.Volumes[1].Name)
	if err := os.Remove(vol); err != nil {
		t.Fatal(err)
	}
	mkfifo(t, vol)
	for name, open := range openers(s) {
		t.Run(name, func(t *testing.T) {
			err := within(t, vol, func() error { return open(context.Background(), res.VolumeList) })
			if !errors.Is(err, errdef.ErrMalformed) || errors.Is(err, errdef.ErrDigestMismatch) || !strings.Contains(err.Error(), vol) || !strings.Contains(err.Error(), "not a regular file") {
				t.Errorf("%s of a volume list whose volume is a named pipe: %v, want errdef.ErrMalformed naming %s as not a regular file", name, err, vol)
			}
		})
	}
}

// TestManifestBesideAnEnvelopeNamedPipeRefused: verify of an envelope
// given on its own reads the manifest.json beside it, off the same media:
// a named pipe there is refused at once as malformed (exit 11), naming it,
// where the open waited for a writer past Ctrl-C.
func TestManifestBesideAnEnvelopeNamedPipeRefused(t *testing.T) {
	s := newServedSample(t, sample.Spec{})
	dir := t.TempDir()
	env, err := os.ReadFile(filepath.Join(s.dir, "manifest.dsse"))
	if err != nil {
		t.Fatal(err)
	}
	envelope := filepath.Join(dir, "manifest.dsse")
	os.WriteFile(envelope, env, 0o644)
	fifo := filepath.Join(dir, "manifest.json")
	mkfifo(t, fifo)
	err = within(t, fifo, func() error {
		_, err := mirror.Verify(context.Background(), mirror.VerifyOptions{Envelope: envelope, Trust: trustKeys(s.pub), Now: fixedTime.Add(time.Hour)})
		return err
	})
	if !errors.Is(err, errdef.ErrMalformed) || !strings.Contains(err.Error(), fifo+": not a regular file") {
		t.Errorf("verify of an envelope beside a named pipe: %v, want errdef.ErrMalformed naming %s as not a regular file", err, fifo)
	}
}
