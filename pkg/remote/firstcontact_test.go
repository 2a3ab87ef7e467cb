package remote_test

import (
	"context"
	"crypto/tls"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/google/go-containerregistry/pkg/registry"

	"github.com/stellaops/mirror/internal/testutil"
	"github.com/stellaops/mirror/pkg/remote"
)

// tlsRegistry is an in-process registry over HTTPS (HTTP/2 offered, as the
// distribution registry does), its certificate issued by ca, with wrap in
// front of it.
func tlsRegistry(t *testing.T, ca *testutil.CA, wrap func(http.Handler) http.Handler) string {
	return tlsRegistryWith(t, ca, wrap, nil)
}

// tlsRegistryWith is tlsRegistry with its TLS settings changed by set.
func tlsRegistryWith(t *testing.T, ca *testutil.CA, wrap func(http.Handler) http.Handler, set func(*tls.Config)) string {
	t.Helper()
	certFile, keyFile := ca.ServerCert(t, t.TempDir())
	pair, err := tls.LoadX509KeyPair(certFile, keyFile)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewUnstartedServer(wrap(registry.New(registry.Logger(log.New(io.Discard, "", 0)))))
	srv.EnableHTTP2 = true
	srv.TLS = &tls.Config{MinVersion: tls.VersionTLS12, Certificates: []tls.Certificate{pair}}
	if set != nil {
		set(srv.TLS)
	}
	srv.Config.ErrorLog = log.New(io.Discard, "", 0)
	srv.StartTLS()
	t.Cleanup(srv.Close)
	return strings.TrimPrefix(srv.URL, "https://")
}

// waiting is a request context that says when something first asks for
// its Done channel: firstContact does so as it starts to wait for its turn
// at a host, and nothing above it does before, so a test knows a request
// is queued behind the first one with no timing.
type waiting struct {
	context.Context
	once   sync.Once
	queued chan<- struct{}
}

func (w *waiting) Done() <-chan struct{} {
	w.once.Do(func() { w.queued <- struct{}{} })
	return w.Context.Done()
}

// Requests that queued behind a host's first request go together once it
// is answered, over HTTP/2: each held the host's turn for its whole round
// trip, so a run's first wave of requests (create's lookups, import's
// uploads) went one after another, a large upload holding up every
// request queued behind it.
func TestFirstContactReleasesQueuedRequestsTogether(t *testing.T) {
	const n = 6
	s := newMTLSSetup(t)
	firstArrived, release := make(chan struct{}), make(chan struct{})
	barrier := testutil.NewBarrier(n)
	barrier.Hold(func(r *http.Request) bool { return r.Header.Get("X-Queued") != "" })
	var mu sync.Mutex
	protos := map[string]int{}
	host := tlsRegistry(t, s.serverCA, func(next http.Handler) http.Handler {
		return barrier.Wrap(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.Header.Get("X-First") != "" {
				close(firstArrived)
				<-release
			}
			if r.Header.Get("X-Queued") != "" {
				mu.Lock()
				protos[r.Proto]++
				mu.Unlock()
			}
			next.ServeHTTP(w, r)
		}))
	})
	c, err := remote.New(remote.Options{CAFile: s.caFile, ConfigFile: s.config, Retries: -1})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(t.Context(), testDeadline)
	defer cancel()
	send := pinger(c, host)
	errs := make(chan error, n+1)
	go func() { errs <- send(ctx, "X-First") }()
	<-firstArrived
	queued := make(chan struct{}, n)
	for range n {
		go func() { errs <- send(&waiting{Context: ctx, queued: queued}, "X-Queued") }()
	}
	for range n {
		<-queued
	}
	close(release)
	if err := barrier.Wait(ctx); err != nil {
		t.Errorf("after the first answer: %v", err)
	}
	for range n + 1 {
		if err := <-errs; err != nil {
			t.Error(err)
		}
	}
	if protos["HTTP/2.0"] != n {
		t.Errorf("queued requests went over %v, want HTTP/2.0 for all %d", protos, n)
	}
}

// closeSignal is a request body that says when it is closed.
type closeSignal struct {
	io.Reader
	closed chan struct{}
}

func (c *closeSignal) Close() error { close(c.closed); return nil }

// A request refused without being sent, for its host's refusal of the
// client certificate, has its body closed, as a RoundTripper must: a body
// fed through a pipe would otherwise hold up its writer for good.
func TestFirstContactClosesTheBodyOfARefusedRequest(t *testing.T) {
	s := newMTLSSetup(t)
	reg := testutil.RegistryMTLS(t, s.serverCA, s.clientCA, 0)
	c, err := remote.New(remote.Options{CAFile: s.caFile, ConfigFile: s.config, Retries: -1})
	if err != nil {
		t.Fatal(err)
	}
	for i := range 2 {
		body := &closeSignal{Reader: strings.NewReader("a chunk"), closed: make(chan struct{})}
		req, err := http.NewRequestWithContext(t.Context(), http.MethodPut, "https://"+reg.Host+"/v2/", body)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := c.HTTPClient().Do(req); err == nil {
			t.Fatal("no refusal")
		}
		select {
		case <-body.closed:
		default:
			t.Errorf("request %d: its body was left open", i+1)
		}
	}
}

// After a host's first request failed otherwise than by refusing the
// client certificate (a connection dropped, a request stalled past the
// idle timeout), the requests queued behind it go together: each waited
// for the one before it to fail in turn, so a registry that stalls took
// the idle timeout once per request before the run could fail.
func TestFirstContactAfterAFailureDoesNotQueue(t *testing.T) {
	const n = 4
	s := newMTLSSetup(t)
	firstArrived, release := make(chan struct{}), make(chan struct{})
	barrier := testutil.NewBarrier(n)
	barrier.Hold(func(r *http.Request) bool { return r.Header.Get("X-Queued") != "" })
	host := tlsRegistry(t, s.serverCA, func(next http.Handler) http.Handler {
		return barrier.Wrap(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.Header.Get("X-First") != "" {
				close(firstArrived)
				<-release
				if conn, _, err := http.NewResponseController(w).Hijack(); err == nil {
					conn.Close() // dropped, no answer
				}
				return
			}
			next.ServeHTTP(w, r)
		}))
	})
	c, err := remote.New(remote.Options{CAFile: s.caFile, ConfigFile: s.config, Retries: -1})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(t.Context(), testDeadline)
	defer cancel()
	send := pinger(c, host)
	first := make(chan error, 1)
	go func() { first <- send(ctx, "X-First") }()
	<-firstArrived
	queued, errs := make(chan struct{}, n), make(chan error, n)
	for range n {
		go func() { errs <- send(&waiting{Context: ctx, queued: queued}, "X-Queued") }()
	}
	for range n {
		<-queued
	}
	close(release)
	if err := barrier.Wait(ctx); err != nil {
		t.Errorf("after the first failed: %v", err)
	}
	if err := <-first; err == nil {
		t.Error("the dropped first request did not fail")
	}
	for range n {
		if err := <-errs; err != nil {
			t.Error(err)
		}
	}
}

// pinger returns a function that sends GET /v2/ to host through c with
// the given header set, and closes the answer.
func pinger(c *remote.Client, host string) func(ctx context.Context, header string) error {
	return func(ctx context.Context, header string) error {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, "https://"+host+"/v2/", nil)
		if err != nil {
			return err
		}
		req.Header.Set(header, "1")
		resp, err := c.HTTPClient().Do(req)
		if err != nil {
			return err
		}
		return resp.Body.Close()
	}
}
