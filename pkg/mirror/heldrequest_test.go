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
	ended   chan string
}

func newHeldRequest() *heldRequest { return &heldRequest{ended: make(chan string, 1)} }

// hold holds r if no request was held before, and reports whether it did;
// a request held 10 s is answered 503.
func (h *heldRequest) hold(w http.ResponseWriter, r *http.Request) bool {
	if !h.claimed.CompareAndSwap(false, true) {
		return false
	}
	select {
	case <-r.Context().Done():
		h.ended <- "cancelled"
	case <-time.After(10 * time.Second):
		h.ended <- "answered after 10 s"
		http.Error(w, "down", http.StatusServiceUnavailable)
	}
	return true
}

// held reports whether a request was held.
func (h *heldRequest) held() bool { return h.claimed.Load() }

// end waits for the held request's end and says how it ended.
func (h *heldRequest) end() string { return <-h.ended }
