package transfer

import (
	"errors"
	"net/http"
	"sync/atomic"
)

// minRequest is the smallest request body that shrinking after a 413 goes
// down to: nginx's default client_max_body_size (1m) lets it through.
const minRequest = 512 << 10

// bodyLimit is what uploads learnt of the largest request body the
// registry takes: a proxy in front of it (nginx's client_max_body_size, a
// load balancer's limit) refuses larger ones with 413 Request Entity Too
// Large, whatever the registry itself would take. The zero value knows of
// no limit. Safe for concurrent use: the uploads to one registry host
// share it (in their Dialect).
type bodyLimit struct {
	max atomic.Int64
	// refused is the smallest request body refused (0: none): the proxy's
	// limit lies between max and it.
	refused atomic.Int64
}

// size is how many of n bytes one request may carry.
func (l *bodyLimit) size(n int64) int64 {
	if m := l.max.Load(); m > 0 {
		return min(n, m)
	}
	return n
}

// under reports whether a request of n bytes is smaller than any refused.
func (l *bodyLimit) under(n int64) bool {
	r := l.refused.Load()
	return r == 0 || n < r
}

// shrink halves the requests after one of n bytes was refused as too
// large, to no less than floor (minRequest, or the registry's smallest
// chunk if larger), reporting false when they cannot be smaller.
func (l *bodyLimit) shrink(n, floor int64) bool {
	for r := l.refused.Load(); (r == 0 || n < r) && !l.refused.CompareAndSwap(r, n); r = l.refused.Load() {
	}
	if n <= floor {
		return false
	}
	next := max(n/2, floor)
	for {
		cur := l.max.Load()
		if cur > 0 && cur <= next {
			return true // another upload shrank them as far already
		}
		if l.max.CompareAndSwap(cur, next) {
			return true
		}
	}
}

// tooLarge reports whether err is a registry's (or its proxy's) refusal of
// a request body for its size.
func tooLarge(err error) bool {
	var rerr *registryError
	return errors.As(err, &rerr) && rerr.StatusCode == http.StatusRequestEntityTooLarge
}
