//go:build unix

package serve

import (
	"net"
	"os"
	"syscall"
	"testing"
)

// TestClientWaitingNotFooledBySignals: a poll of the listen socket that
// a signal interrupts (EINTR: Go's preemption sends SIGURG to running
// threads) was taken for a client waiting, so a connection slow to ask,
// or idle, was closed with no one to make room for (found by review).
func TestClientWaitingNotFooledBySignals(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	stop := make(chan struct{})
	defer close(stop)
	go func() {
		for {
			select {
			case <-stop:
				return
			default:
				syscall.Kill(os.Getpid(), syscall.SIGURG)
			}
		}
	}()
	for i := range 200000 {
		if clientWaiting(ln) {
			t.Fatalf("poll %d: a client waiting, none dialled", i)
		}
	}
	c, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if !clientWaiting(ln) {
		t.Fatal("no client waiting, one dialled and not accepted")
	}
}
