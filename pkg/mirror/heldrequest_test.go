package mirror_test

import (
	"net/http"
	"sync/atomic"
	"time"
)

// heldRequest holds, at a test registry, the first request a test picks
// until its client gives it up or 10 s pass, and tells how it ended: the
// tests of a run that fails for good check that what went on beside the
// failure was stopped, not waited for.
type heldRequest struct {
	claimed atomic.Bool
	arrived chan struct{}
	ended   chan string
}

func newHeldRequest() *heldRequest {
	return &heldRequest{arrived: make(chan struct{}), ended: make(chan string, 1)}
}

// hold holds r if no request was held before, and reports whether it did;
// a request held 10 s is answered 503.
func (h *heldRequest) hold(w http.ResponseWriter, r *http.Request) bool {
	if !h.claimed.CompareAndSwap(false, true) {
		return false
	}
	close(h.arrived)
	select {
	case <-r.Context().Done():
		h.ended <- "cancelled"
	case <-time.After(10 * time.Second):
		h.ended <- "answered after 10 s"
		http.Error(w, "down", http.StatusServiceUnavailable)
	}
	return true
}

// waitHeld waits until a request is held, or 10 s pass: a test's failing
// request waits for it, so that what it fails cannot end the run before
// the request it holds was sent (a loaded machine could be that slow).
func (h *heldRequest) waitHeld() {
	select {
	case <-h.arrived:
	case <-time.After(10 * time.Second):
	}
}

// held reports whether a request was held.
func (h *heldRequest) held() bool { return h.claimed.Load() }

// end waits for the held request's end and says how it ended.
func (h *heldRequest) end() string { return <-h.ended }
