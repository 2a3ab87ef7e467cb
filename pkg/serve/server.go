package serve

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"time"

	"github.com/stellaops/mirror/pkg/errdef"
)

// Limits of the HTTP server. Every request is hostile input: these bound
// what a client can make the server hold before the handler sees it.
const (
	// MaxHeaderBytes bounds a request's line and headers; a longer one gets
	// 431 from net/http. Real pulls send well under 8 KiB.
	MaxHeaderBytes = 64 << 10
	// ReadHeaderTimeout bounds how long a client may take to send its
	// headers (a slowloris client holds a connection for at most this).
	// There is no whole-request read timeout: the registry reads no request
	// bodies (a write's is left unread and its connection closed), and
	// net/http would apply it to the connection while a large blob streams.
	// Nor is there a write timeout: a blob of any size may take its time,
	// as long as it moves (DefaultWriteStallTimeout).
	ReadHeaderTimeout = 10 * time.Second
	// IdleTimeout closes keep-alive connections that sit unused.
	IdleTimeout = 2 * time.Minute
	// DefaultShutdownTimeout is how long a shutdown waits for pulls in
	// flight when ServerOptions.ShutdownTimeout is zero; then they are cut.
	DefaultShutdownTimeout = 10 * time.Second
	// DefaultMaxConnections bounds the connections held open at once
	// (about 80 KiB each while a blob streams, 20 MiB at the bound); the
	// next client waits in the listen queue until one closes. A client
	// that sends no request holds its place for at most ReadHeaderTimeout,
	// and for DefaultCrowdedHeaderTimeout while every place is held and
	// another client waits; an
	// idle keep-alive connection is closed after IdleTimeout, and at once
	// while every place is held and another client waits.
	DefaultMaxConnections = 256
	// DefaultCrowdedHeaderTimeout is how long, while every place of the
	// bound is held and another client waits in the listen queue, a
	// connection may take to send its request's headers (its TLS
	// handshake included) before it is closed to make room: a
	// client trickling its requests a byte at a time over the bound's
	// worth of connections kept every other out for ReadHeaderTimeout,
	// and again. A real client sends its request in a few round trips.
	DefaultCrowdedHeaderTimeout = 3 * time.Second
	// DefaultWriteStallTimeout bounds how long one write to a client may
	// make no progress (a client that asks for a blob and reads nothing)
	// before its connection is closed: such a client would hold its place
	// of the bound for good. A pull reading under 16 KiB a minute fails.
	DefaultWriteStallTimeout = 2 * time.Minute
)

// ServerOptions configure Serve. The zero value serves plain HTTP.
type ServerOptions struct {
	// TLSCertFile and TLSKeyFile, both set, make the server speak HTTPS
	// (TLS 1.2 and later) with this PEM certificate chain and key.
	TLSCertFile, TLSKeyFile string
	// ShutdownTimeout is how long a shutdown waits for requests in flight;
	// 0 means DefaultShutdownTimeout.
	ShutdownTimeout time.Duration
	// MaxConnections bounds the connections held open at once; 0 means
	// DefaultMaxConnections.
	MaxConnections int
	// CrowdedHeaderTimeout is how long a connection may take to send its
	// request's headers while every place is held and another client
	// waits; 0 means
	// DefaultCrowdedHeaderTimeout.
	CrowdedHeaderTimeout time.Duration
	// WriteStallTimeout is how long a write to a client may make no
	// progress; 0 means DefaultWriteStallTimeout.
	WriteStallTimeout time.Duration
	// Logger receives the server's own errors (bad TLS handshakes, broken
	// connections); nil discards them.
	Logger *slog.Logger
}

// Check reports whether the TLS options are usable: both files or neither,
// and a certificate and key that load and match. Errors wrap
// errdef.ErrUsage.
func (o ServerOptions) Check() error {
	_, err := o.tlsConfig()
	return err
}

func (o ServerOptions) tlsConfig() (*tls.Config, error) {
	if (o.TLSCertFile == "") != (o.TLSKeyFile == "") {
		return nil, fmt.Errorf("TLS needs both a certificate and a key: %w", errdef.ErrUsage)
	}
	if o.TLSCertFile == "" {
		return nil, nil
	}
	cert, err := tls.LoadX509KeyPair(o.TLSCertFile, o.TLSKeyFile)
	if err != nil {
		return nil, fmt.Errorf("TLS certificate %s and key %s: %v: %w", o.TLSCertFile, o.TLSKeyFile, err, errdef.ErrUsage)
	}
	return &tls.Config{MinVersion: tls.VersionTLS12, Certificates: []tls.Certificate{cert}}, nil
}

// Serve answers requests on ln with h until ctx ends, then shuts down:
// it stops accepting, lets requests in flight finish for up to the shutdown
// timeout, and returns nil. It returns an error only when serving fails.
// ln is closed when Serve returns.
func Serve(ctx context.Context, ln net.Listener, h http.Handler, opts ServerOptions) error {
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	srv := &http.Server{
		ReadHeaderTimeout: ReadHeaderTimeout,
		IdleTimeout:       IdleTimeout,
		MaxHeaderBytes:    MaxHeaderBytes,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}
	tlsConfig, err := opts.tlsConfig()
	if err != nil {
		ln.Close()
		return err
	}
	srv.TLSConfig = tlsConfig
	limit := opts.MaxConnections
	if limit <= 0 {
		limit = DefaultMaxConnections
	}
	stall := opts.WriteStallTimeout
	if stall <= 0 {
		stall = DefaultWriteStallTimeout
	}
	crowded := opts.CrowdedHeaderTimeout
	if crowded <= 0 {
		crowded = DefaultCrowdedHeaderTimeout
	}
	limited := newLimitListener(ln, limit, stall, crowded)
	ln = limited
	srv.ConnState = limited.connState
	srv.ConnContext = limited.connContext
	srv.Handler = limited.answering(h)
	timeout := opts.ShutdownTimeout
	if timeout <= 0 {
		timeout = DefaultShutdownTimeout
	}
	served := make(chan error, 1)
	go func() {
		var err error
		defer func() { served <- err }()
		// A panic (a bug) of the accept loop (the listener, the
		// connection hooks it runs) is Serve's error, not the process's
		// end; a handler's is net/http's, which closes that connection.
		defer errdef.Recover(&err)
		if srv.TLSConfig != nil {
			err = srv.ServeTLS(ln, "", "")
			return
		}
		err = srv.Serve(ln)
	}()
	select {
	case err := <-served:
		if errors.Is(err, errdef.ErrInternal) {
			srv.Close() // the connections it accepted before
		}
		return err
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), timeout)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil {
		log.Warn("requests still in flight at shutdown were cut", "err", err)
		srv.Close()
	}
	if err := <-served; err != nil && !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

// limitListener hands out at most cap(slots) connections at once: Accept
// waits for one of them to close before it takes the next from the
// listener, so clients past the bound wait in the kernel's listen queue
// rather than in the server's memory. While it waits and a client waits
// in the listen queue, a connection that is idle (a keep-alive one
// between requests, ConnState's StateIdle), or becomes so, is closed to
// make room, the one idle the longest first; then one that has taken
// crowded to send its request's headers, the oldest first. Otherwise a client holding the bound's worth of idle or
// trickling connections kept every other out for IdleTimeout or
// ReadHeaderTimeout, and again. A connection whose request is being
// answered is never closed to make room.
type limitListener struct {
	net.Listener
	slots     chan struct{}
	done      chan struct{}
	closeOnce sync.Once
	// idle holds the connections idle now, and since when; asking those
	// sending a request not yet answered, and since when; wake is told
	// when one becomes idle.
	mu     sync.Mutex
	idle   map[*limitConn]time.Time
	asking map[*limitConn]time.Time
	wake   chan struct{}
	// stall is how long a write may make no progress; crowded how long a
	// request's headers may take while every place is held.
	stall, crowded time.Duration
}

func newLimitListener(ln net.Listener, n int, stall, crowded time.Duration) *limitListener {
	return &limitListener{Listener: ln, slots: make(chan struct{}, n), done: make(chan struct{}), stall: stall, crowded: crowded,
		idle: map[*limitConn]time.Time{}, asking: map[*limitConn]time.Time{}, wake: make(chan struct{}, 1)}
}

func (l *limitListener) Accept() (net.Conn, error) {
	select {
	case l.slots <- struct{}{}:
	default:
		if closed := l.waitForRoom(); closed {
			return nil, net.ErrClosed
		}
	}
	c, err := l.Listener.Accept()
	if err != nil {
		<-l.slots
		return nil, err
	}
	lc := &limitConn{Conn: c, stall: l.stall}
	lc.release = func() {
		l.mu.Lock()
		lc.closed = true
		delete(l.idle, lc)
		delete(l.asking, lc)
		l.mu.Unlock()
		<-l.slots
	}
	return lc, nil
}

// waitForRoom waits for a place, making room as connections turn idle
// or ask too long. It reports whether the listener closed instead.
func (l *limitListener) waitForRoom() (closed bool) {
	for {
		var later <-chan time.Time
		var timer *time.Timer
		if next := l.makeRoom(); !next.IsZero() {
			timer = time.NewTimer(time.Until(next))
			later = timer.C
		}
		placed := false
		select {
		case l.slots <- struct{}{}:
			placed = true
		case <-l.wake: // one more idle, or asking: close it, or time it
		case <-later: // one asking for crowded: close it
		case <-l.done:
			closed = true
		}
		if timer != nil {
			timer.Stop()
		}
		if placed || closed {
			return closed
		}
	}
}

// makeRoom closes, if a client waits in the listen queue, the connection
// idle the longest, if any is, or else the one asking the longest if it
// has asked for crowded. It returns when to look again, if it closed none
// and one is idle or asking.
func (l *limitListener) makeRoom() (next time.Time) {
	l.mu.Lock()
	victim, _ := oldest(l.idle)
	if victim == nil {
		var since time.Time
		victim, since = oldest(l.asking)
		if victim != nil && time.Since(since) < l.crowded {
			victim, next = nil, since.Add(l.crowded)
		}
	}
	if victim != nil && !clientWaiting(l.Listener) {
		// No one to make room for: a client pulling blobs one after
		// another keeps its connection between them, and a slow one (a
		// TLS handshake over a long, lossy link) its place, until one
		// comes, looked for every lookAgain.
		victim, next = nil, time.Now().Add(min(lookAgain, l.crowded/4))
	}
	delete(l.idle, victim)
	delete(l.asking, victim)
	l.mu.Unlock()
	if victim != nil {
		// Under TLS, the raw connection: no close_notify to a client
		// that may not read it.
		victim.Close()
	}
	return next
}

// lookAgain is how often, while every place is held by a connection
// that could be closed and no client waits, the listen queue is looked
// at: how long a client coming then may wait for room.
const lookAgain = 100 * time.Millisecond

// oldest is the connection of conns with the earliest time, or nil.
func oldest(conns map[*limitConn]time.Time) (*limitConn, time.Time) {
	var first *limitConn
	var since time.Time
	for c, t := range conns {
		if first == nil || t.Before(since) {
			first, since = c, t
		}
	}
	return first, since
}

// limitConnOf is the limitConn under c, or nil.
func limitConnOf(c net.Conn) *limitConn {
	if tc, ok := c.(*tls.Conn); ok {
		c = tc.NetConn()
	}
	lc, _ := c.(*limitConn)
	return lc
}

// connState is the server's ConnState hook: it keeps which connections
// are idle (between requests, one answered), and which are sending a
// request (new ones, HTTP/2's before its first request, or active with
// no request being answered).
func (l *limitListener) connState(c net.Conn, state http.ConnState) {
	lc := limitConnOf(c)
	if lc == nil {
		return
	}
	l.mu.Lock()
	since, asked := l.asking[lc]
	if !asked {
		since = time.Now()
	}
	delete(l.idle, lc)
	delete(l.asking, lc)
	wake := false
	switch {
	case lc.closed:
	case state == http.StateIdle && lc.answered:
		l.idle[lc], wake = time.Now(), true
	case state == http.StateNew, state == http.StateIdle,
		state == http.StateActive && lc.answering == 0:
		// Asking since it began to: an HTTP/2 connection is idle once
		// its preface is read, before its first request's headers are,
		// and is not closed as idle then.
		l.asking[lc], wake = since, true
	}
	l.mu.Unlock()
	if wake {
		// An Accept waiting for room closes it, or times it.
		select {
		case l.wake <- struct{}{}:
		default:
		}
	}
}

type connKey struct{}

// connContext is the server's ConnContext hook: it lets answering find
// the connection of a request.
func (l *limitListener) connContext(ctx context.Context, c net.Conn) context.Context {
	if lc := limitConnOf(c); lc != nil {
		ctx = context.WithValue(ctx, connKey{}, lc)
	}
	return ctx
}

// answering wraps h so that a connection counts as being answered, never
// closed to make room, from when its request reaches h until h returns.
func (l *limitListener) answering(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		lc, _ := r.Context().Value(connKey{}).(*limitConn)
		if lc != nil {
			l.mu.Lock()
			lc.answering++
			lc.answered = true
			delete(l.asking, lc)
			l.mu.Unlock()
			defer func() {
				l.mu.Lock()
				lc.answering--
				l.mu.Unlock()
			}()
		}
		if r.ProtoMajor == 2 {
			w = &streamStall{ResponseWriter: w, rc: http.NewResponseController(w), stall: l.stall}
		}
		h.ServeHTTP(w, r)
	})
}

// streamStall fails a write of an HTTP/2 answer that makes no progress
// for stall, resetting its stream: a client that grants no flow-control
// window holds the write with nothing written to the connection, where
// limitConn sees no stall, and its request, being answered, holds its
// place for good.
type streamStall struct {
	http.ResponseWriter
	rc    *http.ResponseController
	stall time.Duration
}

func (s *streamStall) Write(p []byte) (int, error) {
	// A deadline for each step of at most 32 KiB, renewed as each is
	// written, as limitConn's.
	n := 0
	for n < len(p) {
		step := min(len(p)-n, 32<<10)
		if err := s.rc.SetWriteDeadline(time.Now().Add(s.stall)); err != nil {
			return n, err
		}
		m, err := s.ResponseWriter.Write(p[n : n+step])
		n += m
		if err != nil {
			return n, err
		}
	}
	return n, nil
}

// Unwrap lets http.ResponseController reach the stream.
func (s *streamStall) Unwrap() http.ResponseWriter { return s.ResponseWriter }

func (l *limitListener) Close() error {
	l.closeOnce.Do(func() { close(l.done) })
	return l.Listener.Close()
}

// limitConn gives its place back once, on its first Close, and fails a
// write that makes no progress for stall.
type limitConn struct {
	net.Conn
	once    sync.Once
	release func()
	closed  bool // under the listener's mu
	// answering counts the requests of the connection being answered
	// (HTTP/2 answers several at once), under the listener's mu.
	answering int
	// answered says a request of the connection has been answered (its
	// handler reached), under the listener's mu: only then is it idle.
	answered bool
	stall    time.Duration
	// deadline is the write deadline set on the connection (tls.Conn's
	// 5 s for its close_notify), kept where it comes before stall's.
	mu       sync.Mutex
	deadline time.Time
}

func (c *limitConn) SetDeadline(t time.Time) error {
	c.setWriteDeadline(t)
	return c.Conn.SetDeadline(t)
}

func (c *limitConn) SetWriteDeadline(t time.Time) error {
	c.setWriteDeadline(t)
	return c.Conn.SetWriteDeadline(t)
}

func (c *limitConn) setWriteDeadline(t time.Time) {
	c.mu.Lock()
	c.deadline = t
	c.mu.Unlock()
}

func (c *limitConn) Write(p []byte) (int, error) {
	// A deadline for each step of at most 32 KiB, renewed as each is
	// written: a slow client that keeps reading is never cut.
	n := 0
	for n < len(p) {
		step := min(len(p)-n, 32<<10)
		d := time.Now().Add(c.stall)
		c.mu.Lock()
		if !c.deadline.IsZero() && c.deadline.Before(d) {
			d = c.deadline
		}
		c.mu.Unlock()
		if err := c.Conn.SetWriteDeadline(d); err != nil {
			return n, err
		}
		m, err := c.Conn.Write(p[n : n+step])
		n += m
		if err != nil {
			return n, err
		}
	}
	return n, nil
}

func (c *limitConn) Close() error {
	err := c.Conn.Close()
	c.once.Do(c.release)
	return err
}
