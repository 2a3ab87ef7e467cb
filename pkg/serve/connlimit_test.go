package serve_test

import (
	"bufio"
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptrace"
	"strings"
	"sync"
	"testing"
	"time"

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

// TestServerClosesIdleConnectionsForAWaitingClient: with every place of
// the bound held by a keep-alive connection sitting idle after its request
// (one client opening MaxConnections of them), a new client waited in the
// listen queue until one went: up to IdleTimeout (2 min), again for as
// long as that client kept them. The oldest idle connection is now closed
// for a client waiting, which is answered at once (plain HTTP and TLS).
func TestServerClosesIdleConnectionsForAWaitingClient(t *testing.T) {
	f := newFixture(t)
	certFile, keyFile, pool := selfSigned(t)
	for _, tc := range []struct {
		name string
		opts serve.ServerOptions
	}{
		{"plain", serve.ServerOptions{MaxConnections: 2}},
		{"tls", serve.ServerOptions{MaxConnections: 2, TLSCertFile: certFile, TLSKeyFile: keyFile}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			addr, _, _ := startServer(t, serve.NewHandler(f.content, serve.Options{}), tc.opts)
			dial := func() net.Conn {
				t.Helper()
				c, err := net.Dial("tcp", addr)
				if err != nil {
					t.Fatal(err)
				}
				// Only a failure waits this long: the idle connections
				// held it for 2 min.
				c.SetDeadline(time.Now().Add(20 * time.Second))
				if tc.opts.TLSCertFile != "" {
					tc := tls.Client(c, &tls.Config{RootCAs: pool, ServerName: "127.0.0.1", NextProtos: []string{"http/1.1"}})
					if err := tc.Handshake(); err != nil {
						t.Fatal(err)
					}
					return tc
				}
				return c
			}
			get := func(c net.Conn) error { return askV2(c, "") }
			var held []net.Conn
			defer func() {
				for _, c := range held {
					c.Close()
				}
			}()
			for range tc.opts.MaxConnections {
				c := dial()
				held = append(held, c)
				if err := get(c); err != nil {
					t.Fatal(err)
				}
			}
			c := dial()
			held = append(held, c)
			if err := get(c); err != nil {
				t.Fatalf("a client past the bound, every place held by an idle connection: %v, want it answered", err)
			}
		})
	}
}

// TestServerDropsAStalledClient: a client that asks for a blob and then
// reads nothing held its place for good (there is no write timeout), so
// MaxConnections such requests kept every other client out for as long as
// that client liked. A write on which nothing moves for WriteStallTimeout
// now fails, and the connection closes.
func TestServerDropsAStalledClient(t *testing.T) {
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/stream" {
			io.WriteString(w, "ok")
			return
		}
		chunk := make([]byte, 32<<10)
		for {
			if _, err := w.Write(chunk); err != nil {
				return
			}
		}
	})
	addr, _, _ := startServer(t, h, serve.ServerOptions{MaxConnections: 1, WriteStallTimeout: 200 * time.Millisecond, ShutdownTimeout: time.Millisecond})
	stalled, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer stalled.Close()
	if _, err := io.WriteString(stalled, "GET /stream HTTP/1.1\r\nHost: x\r\n\r\n"); err != nil {
		t.Fatal(err)
	}
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	// Only a failure waits this long: the stalled client held it for good.
	c.SetDeadline(time.Now().Add(20 * time.Second))
	if err := askV2(c, ""); err != nil {
		t.Fatalf("a client past the bound, its place held by one that reads nothing: %v, want it answered", err)
	}
}

// TestServerClosesTricklingConnectionsForAWaitingClient: with every place
// of the bound held by a connection that sends its request a byte at a
// time (or connects and sends nothing), a new client waited in the listen
// queue for ReadHeaderTimeout (10 s), and again for as long as a client
// kept opening such connections. While every place is held, one that has
// taken CrowdedHeaderTimeout without sending its request's headers is now
// closed for a client waiting, which is answered at once.
func TestServerClosesTricklingConnectionsForAWaitingClient(t *testing.T) {
	f := newFixture(t)
	addr, _, _ := startServer(t, serve.NewHandler(f.content, serve.Options{}),
		serve.ServerOptions{MaxConnections: 2, CrowdedHeaderTimeout: 100 * time.Millisecond})
	var held []net.Conn
	defer func() {
		for _, c := range held {
			c.Close()
		}
	}()
	for _, begun := range []string{"GET /v2/ HTTP/1.1\r\nHo", ""} {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		held = append(held, c)
		if _, err := io.WriteString(c, begun); err != nil {
			t.Fatal(err)
		}
	}
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	// Only a failure waits this long: the trickling connections held
	// their places for ReadHeaderTimeout (10 s).
	c.SetDeadline(time.Now().Add(5 * time.Second))
	if err := askV2(c, ""); err != nil {
		t.Fatalf("a client past the bound, every place held by one sending no whole request: %v, want it answered", err)
	}
}

// TestServerKeepsConnectionsBeingAnswered: a connection whose request is
// being answered is never closed to make room, however long the answer
// takes: only those between requests or still sending one are.
func TestServerKeepsConnectionsBeingAnswered(t *testing.T) {
	started, release := make(chan struct{}), make(chan struct{})
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/slow" {
			close(started)
			<-release
		}
		io.WriteString(w, "ok")
	})
	// Long enough for the first request to reach the handler: until then
	// its connection may be closed as asking too long.
	const crowded = 200 * time.Millisecond
	addr, _, _ := startServer(t, h, serve.ServerOptions{MaxConnections: 1, CrowdedHeaderTimeout: crowded})
	get := func(path string) (net.Conn, <-chan error) {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close() })
		c.SetDeadline(time.Now().Add(20 * time.Second))
		answered := make(chan error, 1)
		go func() {
			if _, err := io.WriteString(c, "GET "+path+" HTTP/1.1\r\nHost: x\r\n\r\n"); err != nil {
				answered <- err
				return
			}
			resp, err := http.ReadResponse(bufio.NewReader(c), nil)
			if err != nil {
				answered <- err
				return
			}
			body, err := io.ReadAll(resp.Body)
			resp.Body.Close()
			if err == nil && string(body) != "ok" {
				err = fmt.Errorf("body %q", body)
			}
			answered <- err
		}()
		return c, answered
	}
	_, slow := get("/slow")
	select {
	case <-started:
	case err := <-slow:
		t.Fatalf("the first request: %v", err)
	}
	_, waiting := get("/v2/")
	select {
	case err := <-slow:
		t.Fatalf("the request being answered ended before its answer was written: %v", err)
	case err := <-waiting:
		t.Fatalf("a client past the bound was answered while the only place was answering a request: %v", err)
	case <-time.After(5 * crowded):
	}
	close(release)
	if err := <-slow; err != nil {
		t.Fatalf("the request being answered: %v", err)
	}
	if err := <-waiting; err != nil {
		t.Fatalf("the client waiting: %v", err)
	}
}

// TestServerKeepsSlowClientWhenNoneWaits: with every place held and no
// client waiting in the listen queue, a connection slow to send its
// request's headers (a TLS handshake and request over a long, lossy link)
// keeps its place for ReadHeaderTimeout: there is no one to make room
// for. It was closed once it had taken CrowdedHeaderTimeout (found by
// review).
func TestServerKeepsSlowClientWhenNoneWaits(t *testing.T) {
	f := newFixture(t)
	const crowded = 100 * time.Millisecond
	addr, _, _ := startServer(t, serve.NewHandler(f.content, serve.Options{}),
		serve.ServerOptions{MaxConnections: 1, CrowdedHeaderTimeout: crowded})
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(20 * time.Second))
	if _, err := io.WriteString(c, "GET /v2/ HTTP/1.1\r\nHo"); err != nil {
		t.Fatal(err)
	}
	// The rest of the headers, well past crowded and well within
	// ReadHeaderTimeout.
	<-time.After(10 * crowded)
	if err := askV2(c, "GET /v2/ HTTP/1.1\r\nHo"); err != nil {
		t.Fatalf("a slow client holding the only place, no other waiting: %v, want it answered", err)
	}
}

// TestServerKeepsNewHTTP2Connection: an HTTP/2 connection (TLS, h2
// negotiated) is idle (ConnState) once its preface is read, before its
// first request's headers are; taking the last place, it was closed at
// once as idle, its request cut ("unexpected EOF", "http2: client conn
// could not be established"), so with every place held no HTTP/2 client
// got the last one, even with no other client waiting (found by review).
func TestServerKeepsNewHTTP2Connection(t *testing.T) {
	f := newFixture(t)
	certFile, keyFile, pool := selfSigned(t)
	addr, _, _ := startServer(t, serve.NewHandler(f.content, serve.Options{}),
		serve.ServerOptions{MaxConnections: 1, TLSCertFile: certFile, TLSKeyFile: keyFile})
	for i := range 20 {
		tr := &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool, ServerName: "127.0.0.1"}, ForceAttemptHTTP2: true}
		c := &http.Client{Transport: tr, Timeout: 20 * time.Second}
		resp, err := c.Get("https://" + addr + "/v2/")
		if err != nil {
			t.Fatalf("HTTP/2 client %d, the only place free: %v, want it answered", i, err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		tr.CloseIdleConnections()
		if resp.ProtoMajor != 2 || resp.StatusCode != http.StatusOK {
			t.Fatalf("HTTP/2 client %d: %s %s, want HTTP/2.0 200", i, resp.Proto, resp.Status)
		}
	}
}

// TestServerKeepsIdleConnectionWhenNoneWaits: a client pulling blobs one
// after another over one keep-alive connection (HTTP/1.1 or HTTP/2)
// holding the last place keeps it between its requests while no other
// client waits in the listen queue: there is no one to make room for. It
// was closed at once each time it turned idle, so the client dialled again
// for each request, and an HTTP/2 request sent as it was closed was cut
// ("http2: client connection lost"), which Go's client does not retry
// (found by review).
func TestServerKeepsIdleConnectionWhenNoneWaits(t *testing.T) {
	f := newFixture(t)
	certFile, keyFile, pool := selfSigned(t)
	for _, tc := range []struct {
		name, scheme string
		proto        int
		opts         serve.ServerOptions
	}{
		{"http1", "http", 1, serve.ServerOptions{MaxConnections: 1}},
		{"h2", "https", 2, serve.ServerOptions{MaxConnections: 1, TLSCertFile: certFile, TLSKeyFile: keyFile}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			addr, _, _ := startServer(t, serve.NewHandler(f.content, serve.Options{}), tc.opts)
			tr := &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool, ServerName: "127.0.0.1"}, ForceAttemptHTTP2: true}
			defer tr.CloseIdleConnections()
			c := &http.Client{Transport: tr, Timeout: 20 * time.Second}
			dialled := 0
			for i := range 20 {
				trace := &httptrace.ClientTrace{GotConn: func(info httptrace.GotConnInfo) {
					if !info.Reused {
						dialled++
					}
				}}
				req, err := http.NewRequestWithContext(httptrace.WithClientTrace(context.Background(), trace), http.MethodGet, tc.scheme+"://"+addr+"/v2/", nil)
				if err != nil {
					t.Fatal(err)
				}
				resp, err := c.Do(req)
				if err != nil {
					t.Fatalf("request %d of a client holding the only place, none waiting: %v, want it answered", i, err)
				}
				io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				if resp.ProtoMajor != tc.proto || resp.StatusCode != http.StatusOK {
					t.Fatalf("request %d: %s %s, want HTTP/%d 200", i, resp.Proto, resp.Status, tc.proto)
				}
			}
			if dialled != 1 {
				t.Errorf("20 requests one after another, none else waiting: %d connections, want 1 kept alive", dialled)
			}
		})
	}
}

// TestServerDropsAStalledHTTP2Client: an HTTP/2 client that asks for a
// blob and then grants no flow-control window (it reads what comes, so no
// write to its connection stalls, and sends no WINDOW_UPDATE) held its
// place for good: its request's handler waited on the window, being
// answered, never closed to make room, past WriteStallTimeout. A write of
// a request's answer on which nothing moves for WriteStallTimeout now
// fails under HTTP/2 too, and its stream is reset (found by review).
func TestServerDropsAStalledHTTP2Client(t *testing.T) {
	certFile, keyFile, pool := selfSigned(t)
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/stream" {
			io.WriteString(w, "ok")
			return
		}
		chunk := make([]byte, 32<<10)
		for {
			if _, err := w.Write(chunk); err != nil {
				return
			}
		}
	})
	addr, _, _ := startServer(t, h, serve.ServerOptions{MaxConnections: 1, WriteStallTimeout: 200 * time.Millisecond,
		ShutdownTimeout: time.Millisecond, TLSCertFile: certFile, TLSKeyFile: keyFile})
	raw, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer raw.Close()
	stalled := tls.Client(raw, &tls.Config{RootCAs: pool, ServerName: "127.0.0.1", NextProtos: []string{"h2"}})
	if err := stalled.Handshake(); err != nil {
		t.Fatal(err)
	}
	if p := stalled.ConnectionState().NegotiatedProtocol; p != "h2" {
		t.Fatalf("protocol %q, want h2", p)
	}
	// The preface, empty SETTINGS, and HEADERS (END_STREAM|END_HEADERS,
	// stream 1) of GET https://x/stream, HPACK: :method GET, :scheme
	// https, :path and :authority literal with indexed names.
	block := []byte{0x82, 0x87, 0x04, 7}
	block = append(block, "/stream"...)
	block = append(block, 0x01, 1, 'x')
	frames := []byte("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n")
	frames = append(frames, 0, 0, 0, 0x4, 0, 0, 0, 0, 0)
	frames = append(frames, 0, 0, byte(len(block)), 0x1, 0x5, 0, 0, 0, 1)
	frames = append(frames, block...)
	if _, err := stalled.Write(frames); err != nil {
		t.Fatal(err)
	}
	go io.Copy(io.Discard, stalled)
	tr := &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool, ServerName: "127.0.0.1"}, ForceAttemptHTTP2: true}
	defer tr.CloseIdleConnections()
	// Only a failure waits this long: the stalled client held it for good.
	c := &http.Client{Transport: tr, Timeout: 20 * time.Second}
	resp, err := c.Get("https://" + addr + "/v2/")
	if err != nil {
		t.Fatalf("a client past the bound, its place held by an HTTP/2 one granting no window: %v, want it answered", err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("status %s, want 200", resp.Status)
	}
}

// askV2 sends on c what of a GET /v2/ request sent did not, reads the
// answer whole and wants it 200.
func askV2(c net.Conn, sent string) error {
	const req = "GET /v2/ HTTP/1.1\r\nHost: x\r\n\r\n"
	if _, err := io.WriteString(c, strings.TrimPrefix(req, sent)); err != nil {
		return err
	}
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if _, err := io.Copy(io.Discard, resp.Body); err != nil {
		return err
	}
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("status %s", resp.Status)
	}
	return nil
}
