package serve_test

import (
	"context"
	"errors"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stellaops/mirror/pkg/errdef"
	"github.com/stellaops/mirror/pkg/serve"
)

// panickyListener is a listener with a bug: Accept panics.
type panickyListener struct{ net.Listener }

func (panickyListener) Accept() (net.Conn, error) { panic("test: accept broke") }

// TestAcceptPanicIsInternalError: a panic (a bug) in the server's accept
// loop, its own goroutine (the listener's Accept, the connection hooks
// run there), ends Serve with an error wrapping errdef.ErrInternal and
// the stack of the loop (the CLI's exit 1 and one line); it ended the
// process with Go's exit code 2, a digest mismatch's. A handler's panic
// stays net/http's: that connection closed and logged, the server
// answering the others.
func TestAcceptPanicIsInternalError(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	// Only a failure waits this long: Serve went on with no accept loop.
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	err = serve.Serve(ctx, panickyListener{ln}, http.NotFoundHandler(), serve.ServerOptions{})
	var p *errdef.Panic
	if !errors.As(err, &p) || !errors.Is(err, errdef.ErrInternal) || err.Error() != "internal error: panic: test: accept broke" {
		t.Fatalf("Serve: %v; want the internal error of the panic", err)
	}
	if !strings.Contains(string(p.Stack), "panickyListener") {
		t.Errorf("stack does not show where it panicked:\n%s", p.Stack)
	}
}
