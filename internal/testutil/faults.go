package testutil

import (
	"bufio"
	"context"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// Fault is a failure the proxy injects into one request.
type Fault int

// Faults a FaultProxy injects.
const (
	// FaultNone forwards the request untouched.
	FaultNone Fault = iota
	// Fault503 answers 503 Service Unavailable without forwarding.
	Fault503
	// Fault429 answers 429 Too Many Requests with Retry-After: 1.
	Fault429
	// FaultReset closes the connection without an answer, after reading
	// part of any request body.
	FaultReset
	// FaultTruncate forwards the request and cuts the answer's body short
	// (on the next GET, if the request due for it is not one).
	FaultTruncate
	// FaultStall holds the request for Stall before forwarding it.
	FaultStall
	// FaultHang stops moving bytes until the client drops the connection
	// (or the test ends): an upload is read for its first KiB and then no
	// more, a GET's answer stops after about half its body, any other
	// request is never forwarded.
	FaultHang
	// FaultCutUpload forwards about half of an upload's body (on the next
	// request that carries content, if the one due for it does not), so
	// the registry holds part of what was sent, and drops the client's
	// connection without an answer: the upload resumes from the
	// registry's offset, re-sending bytes the client had sent before.
	FaultCutUpload
	// FaultLoseAnswer forwards the request whole, lets the registry act on
	// it, and drops the client's connection instead of passing the answer
	// on: the client cannot tell whether its request took effect (a blob
	// upload completed, a manifest written, a session opened).
	FaultLoseAnswer
)

// FaultProxy is a reverse proxy in front of a real registry that injects
// faults into a deterministic share of requests.
type FaultProxy struct {
	// Host is the proxy's host:port.
	Host string
	// Requests and Injected count requests seen and faults injected;
	// Uploads the requests that carried content.
	Requests, Injected, Uploads atomic.Int64
	// Down, when set, answers every request with 503.
	Down atomic.Bool

	mu      sync.Mutex
	pattern []Fault
	n       int
	// truncation is a truncation due that met a request whose answer has
	// no body to cut: it waits for the next GET (one at most, so that
	// faults never come in a row).
	truncation bool
	// cut is the same for an upload cut due.
	cut    bool
	stall  time.Duration
	byKind [FaultLoseAnswer + 1]atomic.Int64
}

// InjectedOf counts the faults of one kind that took effect so far (a
// truncation needs an answer with a body to cut).
func (p *FaultProxy) InjectedOf(f Fault) int64 { return p.byKind[f].Load() }

// NewFaultProxy starts a proxy to the registry at target (host:port) that
// cycles through pattern, one entry per request (FaultNone entries pass).
// A pattern of ten entries with one fault injects into 10% of requests.
func NewFaultProxy(t testing.TB, target string, pattern ...Fault) *FaultProxy {
	t.Helper()
	u, _ := url.Parse("http://" + target)
	rp := httputil.NewSingleHostReverseProxy(u)
	rp.ErrorLog = log.New(io.Discard, "", 0)
	p := &FaultProxy{pattern: pattern, stall: 300 * time.Millisecond}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p.Requests.Add(1)
		if p.Down.Load() {
			http.Error(w, "down", http.StatusServiceUnavailable)
			return
		}
		upload := r.ContentLength > 1 && (r.Method == http.MethodPatch || r.Method == http.MethodPut)
		if upload {
			p.Uploads.Add(1)
		}
		f := p.next(r.Method, upload)
		if f != FaultNone {
			p.Injected.Add(1)
		}
		if f != FaultNone && f != FaultTruncate && f != FaultCutUpload && (f != FaultHang || r.Method != http.MethodGet) {
			p.byKind[f].Add(1)
		}
		hang := func() {
			select {
			case <-r.Context().Done():
			case <-t.Context().Done():
			}
		}
		switch f {
		case Fault503:
			http.Error(w, `{"errors":[{"code":"UNAVAILABLE","message":"injected"}]}`, http.StatusServiceUnavailable)
		case Fault429:
			w.Header().Set("Retry-After", "1")
			http.Error(w, `{"errors":[{"code":"TOOMANYREQUESTS","message":"injected"}]}`, http.StatusTooManyRequests)
		case FaultReset:
			if r.Body != nil {
				io.CopyN(io.Discard, r.Body, 1024)
			}
			if hj, ok := w.(http.Hijacker); ok {
				if conn, _, err := hj.Hijack(); err == nil {
					conn.Close()
					return
				}
			}
			panic(http.ErrAbortHandler)
		case FaultTruncate:
			// The reverse proxy aborts the connection itself when the
			// writer fails (a panic that never returns here).
			rec := &truncating{ResponseWriter: w, cuts: &p.byKind[FaultTruncate]}
			rp.ServeHTTP(rec, r)
			if rec.cut {
				panic(http.ErrAbortHandler)
			}
		case FaultHang:
			switch {
			case r.Method == http.MethodGet:
				rec := &truncating{ResponseWriter: w, cuts: &p.byKind[FaultHang], hang: hang}
				if rp.ServeHTTP(rec, r); !rec.cut {
					return
				}
			case r.ContentLength != 0 && r.Body != nil:
				io.CopyN(io.Discard, r.Body, 1024)
				hang()
			default:
				hang()
			}
			panic(http.ErrAbortHandler)
		case FaultCutUpload:
			// The registry reads half of the body, then it ends early; the
			// client gets no answer.
			p.byKind[FaultCutUpload].Add(1)
			cutUpload(target, r)
			panic(http.ErrAbortHandler)
		case FaultLoseAnswer:
			rp.ServeHTTP(httptest.NewRecorder(), r)
			panic(http.ErrAbortHandler)
		case FaultStall:
			select {
			case <-time.After(p.stall):
			case <-r.Context().Done():
				return
			}
			rp.ServeHTTP(w, r)
		default:
			rp.ServeHTTP(w, r)
		}
	}))
	t.Cleanup(srv.Close)
	p.Host = srv.Listener.Addr().String()
	return p
}

// SetFaults replaces the pattern, from the next request on; none makes
// the proxy forward everything untouched.
func (p *FaultProxy) SetFaults(pattern ...Fault) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.pattern, p.n, p.truncation, p.cut = pattern, 0, false, false
}

// Faults is a pattern of 55 requests that injects a fault into every
// fifth (20%): 503, reset and truncated answer twice each, a stall, a hang
// (which costs the client's idle timeout), a 429 (a whole second of
// Retry-After), an answer lost after the registry acted on the request,
// and an upload cut after the registry took half of it.
func Faults() []Fault {
	kinds := []Fault{Fault503, FaultReset, FaultTruncate, FaultStall, FaultHang, Fault429, FaultLoseAnswer, Fault503, FaultReset, FaultCutUpload, FaultTruncate}
	pattern := make([]Fault, 5*len(kinds))
	for i, f := range kinds {
		pattern[2+5*i] = f
	}
	return pattern
}

// next picks the fault for a request; upload says it carries content
// (at least 2 bytes, so that half of it is something).
func (p *FaultProxy) next(method string, upload bool) Fault {
	p.mu.Lock()
	defer p.mu.Unlock()
	if len(p.pattern) == 0 {
		return FaultNone
	}
	f := p.pattern[p.n%len(p.pattern)]
	p.n++
	switch {
	case f == FaultTruncate && method != http.MethodGet:
		p.truncation = true
		return FaultNone
	case f == FaultCutUpload && !upload:
		p.cut = true
		return FaultNone
	case f == FaultNone && method == http.MethodGet && p.truncation:
		p.truncation = false
		return FaultTruncate
	case f == FaultNone && upload && p.cut:
		p.cut = false
		return FaultCutUpload
	}
	return f
}

// truncating passes the status and headers and about half of a body that
// has a Content-Length, then stops; the handler then aborts the connection,
// so the client sees a body cut short.
type truncating struct {
	http.ResponseWriter
	limit   int64
	written int64
	cut     bool
	cuts    *atomic.Int64
	// hang, if set, is waited for once the cut part is sent: the answer
	// stops instead of ending.
	hang func()
}

func (t *truncating) WriteHeader(code int) {
	if n, err := strconv.ParseInt(t.Header().Get("Content-Length"), 10, 64); err == nil && n > 1 {
		t.limit = n / 2
	}
	t.ResponseWriter.WriteHeader(code)
}

func (t *truncating) Write(b []byte) (int, error) {
	if t.limit == 0 {
		return t.ResponseWriter.Write(b)
	}
	if t.written+int64(len(b)) > t.limit {
		b = b[:t.limit-t.written]
		t.cut = true
		t.cuts.Add(1)
	}
	n, err := t.ResponseWriter.Write(b)
	t.written += int64(n)
	if t.cut {
		if f, ok := t.ResponseWriter.(http.Flusher); ok {
			f.Flush()
		}
		if t.hang != nil {
			t.hang()
		}
		return n, io.ErrShortWrite
	}
	return n, err
}

// cutUpload sends the registry at target the request's head and the first
// half of its body, ends its side of the connection there and waits for
// the registry to answer or close: the registry is done with the bytes it
// took before the client hears of the cut, so that the status the client
// asks next is the registry's last word (a reverse proxy returned as soon
// as its own write failed, and the registry, still reading, could answer
// the status with none of the half taken, which some tests did not expect).
func cutUpload(target string, r *http.Request) {
	conn, err := net.Dial("tcp", target)
	if err != nil {
		return
	}
	defer conn.Close()
	out := r.Clone(context.WithoutCancel(r.Context()))
	out.URL.Scheme, out.URL.Host, out.Host = "http", target, target
	out.Body = io.NopCloser(io.LimitReader(r.Body, r.ContentLength/2))
	bw := bufio.NewWriter(conn)
	out.Write(bw) // fails: the body ends before its length
	bw.Flush()
	conn.(*net.TCPConn).CloseWrite()
	io.Copy(io.Discard, conn)
}
