//go:build unix

package testutil

import (
	"io"
	"os"
	"syscall"
	"testing"
)

// EndlessFile makes path a FIFO that gives n zero bytes and then neither
// more nor its end, as a device or a file still being written may: a
// reader that reads to the end waits until the test is over, one bounded
// below n bytes returns at once. It skips the test where no FIFO can be
// made.
func EndlessFile(t testing.TB, path string, n int) {
	t.Helper()
	if err := syscall.Mkfifo(path, 0o644); err != nil {
		t.Skipf("mkfifo: %v", err)
	}
	stop, done := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(done)
		w, err := os.OpenFile(path, os.O_WRONLY, 0)
		if err != nil {
			return
		}
		defer w.Close()
		// A reader that stops early and closes fails this write (EPIPE).
		if _, err := w.Write(make([]byte, n)); err == nil {
			<-stop
		}
	}()
	t.Cleanup(func() {
		close(stop)
		// The FIFO held open read-write until the writer is done: its
		// open never blocks, and it is a reader that lets the writer
		// through whenever it comes to open the FIFO (a reader that
		// opened and closed before the writer's open came, as one refusing
		// a FIFO at once does, would leave it waiting), and drains what it
		// writes (being a writer too, it never reads an end that would
		// leave a later writer's bytes undrained).
		r, err := os.OpenFile(path, os.O_RDWR, 0)
		if err != nil {
			<-done
			return
		}
		go io.Copy(io.Discard, r)
		<-done
		r.Close()
	})
}
