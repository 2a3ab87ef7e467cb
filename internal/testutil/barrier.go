package testutil

import (
	"context"
	"fmt"
	"net/http"
	"sync/atomic"
)

// Barrier holds the requests it matches until n of them are held at once,
// then lets them all go: requests a client sends one after another never
// get there. It proves that a client overlaps its round trips, with no
// timing: Wait's context is only the safety net that fails a sequential
// client rather than hanging it.
type Barrier struct {
	n       int
	match   atomic.Pointer[func(*http.Request) bool]
	arrived chan struct{}
	open    chan struct{}
}

// NewBarrier returns a barrier for n requests, holding none until Hold.
func NewBarrier(n int) *Barrier {
	// arrived has room for every request a test sends, so that a handler
	// never waits to say it arrived.
	return &Barrier{n: n, arrived: make(chan struct{}, 4096), open: make(chan struct{})}
}

// Hold sets which requests the barrier holds.
func (b *Barrier) Hold(match func(*http.Request) bool) { b.match.Store(&match) }

// Wrap is the barrier in front of next (for RegistryWrapped, ProxyWrapped).
func (b *Barrier) Wrap(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if m := b.match.Load(); m != nil && (*m)(r) {
			b.arrived <- struct{}{}
			select {
			case <-b.open:
			case <-r.Context().Done():
				return
			}
		}
		next.ServeHTTP(w, r)
	})
}

// Wait returns nil once n matching requests are held at once, or, when ctx
// ends first, an error saying how many were; either way it lets them go,
// and every matching request after them passes. Call it once.
func (b *Barrier) Wait(ctx context.Context) error {
	defer close(b.open)
	for i := 0; i < b.n; i++ {
		select {
		case <-b.arrived:
		case <-ctx.Done():
			return fmt.Errorf("%d of the %d requests were in flight together (sent one after another?)", i, b.n)
		}
	}
	return nil
}
