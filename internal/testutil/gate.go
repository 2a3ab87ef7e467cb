package testutil

import (
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"sync"
	"sync/atomic"
	"testing"
)

// Gate is a proxy in front of a registry that lets upload bytes through
// until a threshold, then holds every request until opened: a test waits
// for Reached (no sleeping), interrupts the client, and opens the gate for
// the re-run.
type Gate struct {
	// Host is the proxy's host:port.
	Host string
	// Sent counts request body bytes of uploads (PATCH, PUT) passed on.
	Sent atomic.Int64
	// Reached is closed when the threshold is first reached.
	Reached chan struct{}

	threshold int64
	once      sync.Once
	open      atomic.Bool
	release   chan struct{}
	closeOnce sync.Once
}

// NewGate starts a gate to the registry at target.
func NewGate(t testing.TB, target string, threshold int64) *Gate {
	g := &Gate{threshold: threshold, Reached: make(chan struct{}), release: make(chan struct{})}
	u, _ := url.Parse("http://" + target)
	rp := httputil.NewSingleHostReverseProxy(u)
	rp.ErrorLog = log.New(io.Discard, "", 0)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !g.open.Load() && g.Sent.Load() >= g.threshold {
			g.once.Do(func() { close(g.Reached) })
			select {
			case <-g.release:
			case <-r.Context().Done():
				return
			}
		}
		if r.Body != nil && (r.Method == http.MethodPatch || r.Method == http.MethodPut) {
			r.Body = &countingBody{r.Body, &g.Sent}
		}
		rp.ServeHTTP(w, r)
	}))
	t.Cleanup(func() {
		g.Open()
		srv.Close()
	})
	g.Host = srv.Listener.Addr().String()
	return g
}

// Open lets every request through from now on.
func (g *Gate) Open() {
	g.open.Store(true)
	g.closeOnce.Do(func() { close(g.release) })
}

type countingBody struct {
	io.ReadCloser
	n *atomic.Int64
}

func (c *countingBody) Read(p []byte) (int, error) {
	n, err := c.ReadCloser.Read(p)
	c.n.Add(int64(n))
	return n, err
}
