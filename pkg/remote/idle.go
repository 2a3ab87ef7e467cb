package remote

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"sync"
	"time"
)

// DefaultIdleTimeout is Options.IdleTimeout when zero: as long as the
// transport waits for an answer's headers.
const DefaultIdleTimeout = 2 * time.Minute

// idleTimeout drops a request whose bytes stop moving, so that a registry
// (or anything between) that stops sending or stops reading mid-transfer
// fails the request, which is then retried, instead of hanging the
// command: an answer whose reads wait longer than the timeout in all
// without minProgress bytes coming (a source that trickles a byte every
// few seconds held create without end: found by review), or a request
// the connection has not taken more of for as long. Time the caller
// spends between reads of an answer, or reading a request's body from
// its own source, is not counted.
type idleTimeout struct {
	base http.RoundTripper
	d    time.Duration
}

func (t idleTimeout) RoundTrip(req *http.Request) (*http.Response, error) {
	ctx, cancel := context.WithCancel(req.Context())
	w := newWatchdog(t.d, req.URL.Host, cancel)
	req = req.WithContext(ctx)
	if req.Body != nil && req.Body != http.NoBody {
		req.Body = &watchedRequest{rc: req.Body, w: w}
		if getBody := req.GetBody; getBody != nil {
			req.GetBody = func() (io.ReadCloser, error) {
				rc, err := getBody()
				if err != nil {
					return nil, err
				}
				return &watchedRequest{rc: rc, w: w}, nil
			}
		}
	}
	// Until the answer comes, the clock runs whenever the request's body
	// is not being read from its source.
	w.arm()
	resp, err := t.base.RoundTrip(req)
	w.answered()
	if err != nil {
		w.close()
		return nil, w.explain(err)
	}
	if resp.Body == http.NoBody {
		w.close()
		return resp, nil
	}
	resp.Body = &watchedAnswer{rc: resp.Body, w: w}
	return resp, nil
}

// minProgress is how many bytes of an answer must come for its clock to
// start again: a slow but honest link (136 bytes a second, at the default
// timeout) moves that much, a registry trickling a byte at a time does not.
const minProgress = 16 << 10

// StallError is the error of a request dropped by the idle timeout: a
// timeout, so retried like one.
type StallError struct {
	Host string
	Idle time.Duration
}

func (e *StallError) Error() string {
	return fmt.Sprintf("%s: no data moved for %s (or less than %d KiB): connection dropped", e.Host, e.Idle, minProgress>>10)
}

func (e *StallError) Timeout() bool   { return true }
func (e *StallError) Temporary() bool { return true }

// watchdog cancels a request's context once its clock has run d without
// being stopped.
type watchdog struct {
	d      time.Duration
	host   string
	cancel context.CancelFunc
	timer  *time.Timer

	mu      sync.Mutex
	answer  bool // the answer came: the request's body no longer counts
	closed  bool
	stalled bool
	// left is what is left of the answer's clock, armed when its last
	// read began; moved the bytes read since the clock was last wound.
	left    time.Duration
	armedAt time.Time
	moved   int
}

func newWatchdog(d time.Duration, host string, cancel context.CancelFunc) *watchdog {
	w := &watchdog{d: d, host: host, cancel: cancel}
	w.timer = time.AfterFunc(d, w.fire)
	w.timer.Stop()
	return w
}

func (w *watchdog) fire() {
	w.mu.Lock()
	if w.closed {
		w.mu.Unlock()
		return
	}
	w.stalled = true
	w.mu.Unlock()
	w.cancel()
}

// arm starts the clock, until the answer comes.
func (w *watchdog) arm() {
	w.mu.Lock()
	if !w.closed {
		w.timer.Reset(w.d)
	}
	w.mu.Unlock()
}

// armRequest and stopRequest are arm and stop for the request's body, which
// the HTTP client may still read after the answer came (a registry that
// answered early): from then on they do nothing.
func (w *watchdog) armRequest() {
	w.mu.Lock()
	if !w.answer && !w.closed {
		w.timer.Reset(w.d)
	}
	w.mu.Unlock()
}

func (w *watchdog) stopRequest() {
	w.mu.Lock()
	if !w.answer {
		w.timer.Stop()
	}
	w.mu.Unlock()
}

func (w *watchdog) answered() {
	w.mu.Lock()
	w.answer = true
	w.left = w.d
	w.timer.Stop()
	w.mu.Unlock()
}

// armAnswer starts the answer's clock with what is left of it.
func (w *watchdog) armAnswer() {
	w.mu.Lock()
	if !w.closed {
		w.armedAt = time.Now()
		w.timer.Reset(w.left)
	}
	w.mu.Unlock()
}

// stopAnswer stops the answer's clock after a read of n bytes: wound
// again once minProgress bytes came since it last was, else what the read
// took is off what is left.
func (w *watchdog) stopAnswer(n int) {
	w.timer.Stop()
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.moved += n; w.moved >= minProgress {
		w.moved, w.left = 0, w.d
		return
	}
	w.left = max(w.left-time.Since(w.armedAt), time.Millisecond)
}

func (w *watchdog) close() {
	w.mu.Lock()
	w.closed = true
	w.timer.Stop()
	w.mu.Unlock()
	w.cancel()
}

// explain turns the error of a dropped request into a StallError.
func (w *watchdog) explain(err error) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if err != nil && err != io.EOF && w.stalled {
		return &StallError{Host: w.host, Idle: w.d}
	}
	return err
}

type watchedRequest struct {
	rc io.ReadCloser
	w  *watchdog
}

func (r *watchedRequest) Read(p []byte) (int, error) {
	r.w.stopRequest()
	n, err := r.rc.Read(p)
	r.w.armRequest()
	return n, err
}

func (r *watchedRequest) Close() error { return r.rc.Close() }

type watchedAnswer struct {
	rc io.ReadCloser
	w  *watchdog
}

func (a *watchedAnswer) Read(p []byte) (int, error) {
	a.w.armAnswer()
	n, err := a.rc.Read(p)
	a.w.stopAnswer(n)
	return n, a.w.explain(err)
}

func (a *watchedAnswer) Close() error {
	err := a.rc.Close()
	a.w.close()
	return err
}
