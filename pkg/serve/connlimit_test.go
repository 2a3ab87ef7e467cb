package serve_test

import (
	"context"
	"net"
	"sync"
	"testing"

	"github.com/stellaops/mirror/pkg/serve"
)

// acceptLog is a listener that records, each time the server asks it for
// a connection, how many connections it has handed out and how many of
// them are closed since.
type acceptLog struct {
	net.Listener
	mu       sync.Mutex
	calls    [][2]int // handed out, closed: at each Accept
	handed   int
	closed   int
	accepted chan struct{}
}

func (l *acceptLog) Accept() (net.Conn, error) {
	l.mu.Lock()
	l.calls = append(l.calls, [2]int{l.handed, l.closed})
	l.mu.Unlock()
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	l.mu.Lock()
	l.handed++
	l.mu.Unlock()
	l.accepted <- struct{}{}
	return &closeLog{Conn: c, l: l}, nil
}

type closeLog struct {
	net.Conn
	l    *acceptLog
	once sync.Once
}

func (c *closeLog) Close() error {
	c.once.Do(func() {
		c.l.mu.Lock()
		c.l.closed++
		c.l.mu.Unlock()
	})
	return c.Conn.Close()
}

// TestServerBoundsConnections: past MaxConnections open connections, the
// server takes no more from its listener until one of them closes, so
// however many clients connect (each an HTTP connection's buffers and
// goroutine), no more than the bound are held at once. Clients that
// connect and send nothing hold theirs as slow ones do.
func TestServerBoundsConnections(t *testing.T) {
	f := newFixture(t)
	const limit = 2
	inner, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ln := &acceptLog{Listener: inner, accepted: make(chan struct{}, 16)}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- serve.Serve(ctx, ln, serve.NewHandler(f.content, serve.Options{}), serve.ServerOptions{MaxConnections: limit})
	}()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			t.Error(err)
		}
	}()
	var clients []net.Conn
	defer func() {
		for _, c := range clients {
			c.Close()
		}
	}()
	for range limit + 1 {
		c, err := net.Dial("tcp", inner.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		clients = append(clients, c)
	}
	for range limit {
		<-ln.accepted
	}
	// One client goes: its connection closes, which frees a place for the
	// one waiting.
	clients[0].Close()
	<-ln.accepted
	ln.mu.Lock()
	defer ln.mu.Unlock()
	for i, c := range ln.calls {
		if open := c[0] - c[1]; open >= limit {
			t.Errorf("Accept %d asked for with %d connections open (bound %d): %v", i, open, limit, ln.calls)
		}
	}
}
