package testutil

import (
	"fmt"
	"net/http"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
)

// RateLimit stands for a hosted registry's rate limiter or maintenance
// window (Docker Hub's and GHCR's 429, a 503 during a failover): the first
// request that Match accepts is answered Status with a Retry-After saying
// to come back in Wait, and so is every request until then, as a limiter
// refuses a client that comes back too early. Requests after that pass.
type RateLimit struct {
	// Match picks the requests limited; nil means all.
	Match func(*http.Request) bool
	// Status is the answer's status: 429 or 503.
	Status int
	// Wait is how long the client is asked to stay away.
	Wait time.Duration
	// HTTPDate sends Retry-After as an HTTP-date instead of seconds.
	HTTPDate bool
	// Refused counts the requests refused.
	Refused atomic.Int64

	mu    sync.Mutex
	until time.Time
}

// Wrap is the handler to put in front of the registry (ProxyWrapped,
// RegistryWrapped).
func (l *RateLimit) Wrap(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if until, limited := l.limit(r); limited {
			l.Refused.Add(1)
			if l.HTTPDate {
				w.Header().Set("Retry-After", until.UTC().Format(http.TimeFormat))
			} else {
				w.Header().Set("Retry-After", strconv.Itoa(int(time.Until(until).Seconds()+0.999)))
			}
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(l.Status)
			fmt.Fprint(w, `{"errors":[{"code":"TOOMANYREQUESTS","message":"come back later"}]}`)
			return
		}
		next.ServeHTTP(w, r)
	})
}

// limit reports whether r is refused, and until when.
func (l *RateLimit) limit(r *http.Request) (time.Time, bool) {
	if l.Match != nil && !l.Match(r) {
		return time.Time{}, false
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	now := time.Now()
	if l.until.IsZero() {
		// An HTTP-date has whole seconds: the window ends on one.
		l.until = now.Add(l.Wait).Truncate(time.Second).Add(time.Second)
	}
	return l.until, now.Before(l.until)
}
