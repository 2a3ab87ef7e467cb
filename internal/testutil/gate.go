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
	// minBlob, if not 0, also holds requests back until an upload of at
	// least minBlob bytes has completed (NewGateAfterBlob).
	minBlob   int64
	bigDone   atomic.Bool
	sessions  sync.Map // upload path -> *atomic.Int64 of its bytes
	once      sync.Once
	open      atomic.Bool
	release   chan struct{}
	closeOnce sync.Once
}

// NewGate starts a gate to the registry at target.
func NewGate(t testing.TB, target string, threshold int64) *Gate {
	return NewGateAfterBlob(t, target, threshold, 0)
}

// NewGateAfterBlob is NewGate that also waits, before it holds requests,
// until the registry has completed an upload of at least minBlob bytes: a
// client that sends several blobs at once is then known to have placed one
// whole when it is interrupted, however the uploads interleave.
func NewGateAfterBlob(t testing.TB, target string, threshold, minBlob int64) *Gate {
	g := &Gate{threshold: threshold, minBlob: minBlob, Reached: make(chan struct{}), release: make(chan struct{})}
	u, _ := url.Parse("http://" + target)
	rp := httputil.NewSingleHostReverseProxy(u)
	rp.ErrorLog = log.New(io.Discard, "", 0)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !g.open.Load() && g.Sent.Load() >= g.threshold && (g.minBlob == 0 || g.bigDone.Load()) {
			g.once.Do(func() { close(g.Reached) })
			select {
			case <-g.release:
			case <-r.Context().Done():
				return
			}
		}
		upload := r.Body != nil && (r.Method == http.MethodPatch || r.Method == http.MethodPut)
		var session *atomic.Int64
		if upload {
			n, _ := g.sessions.LoadOrStore(r.URL.Path, new(atomic.Int64))
			session = n.(*atomic.Int64)
			r.Body = &countingBody{r.Body, []*atomic.Int64{&g.Sent, session}}
		}
		if !upload || r.Method != http.MethodPut || g.minBlob == 0 {
			rp.ServeHTTP(w, r)
			return
		}
		sw := &statusWriter{ResponseWriter: w}
		rp.ServeHTTP(sw, r)
		if sw.status == http.StatusCreated && session.Load() >= g.minBlob {
			g.bigDone.Store(true)
		}
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
	n []*atomic.Int64
}

func (c *countingBody) Read(p []byte) (int, error) {
	n, err := c.ReadCloser.Read(p)
	for _, counter := range c.n {
		counter.Add(int64(n))
	}
	return n, err
}

// statusWriter records the status of the answer it passes on.
type statusWriter struct {
	http.ResponseWriter
	status int
}

func (w *statusWriter) WriteHeader(code int) {
	w.status = code
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }
