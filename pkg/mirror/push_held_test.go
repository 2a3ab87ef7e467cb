package mirror_test

import (
	"context"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/stellaops/mirror/internal/testutil"
	"github.com/stellaops/mirror/pkg/mirror"
)

// pushHeld pushes s into an in-process registry that holds every request
// hold picks until want distinct requests that count names (by the key it
// returns) were answered, and fails the test, with what, if the push gave
// up first. A held request is let go with a 503 once the push has been
// given 20 s: the server cancels no request whose body is unread.
func pushHeld(t *testing.T, s *signedSample, what string, want int, hold func(*http.Request) bool, count func(*http.Request) (string, bool)) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	var mu sync.Mutex
	counted := map[string]bool{}
	released := make(chan struct{}) // closed once want requests were counted
	wrap := func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if hold(r) {
				select {
				case <-released:
				case <-ctx.Done():
					http.Error(w, "held", http.StatusServiceUnavailable)
					return
				}
			}
			next.ServeHTTP(w, r)
			if key, ok := count(r); ok {
				mu.Lock()
				if !counted[key] {
					counted[key] = true
					if len(counted) == want {
						close(released)
					}
				}
				mu.Unlock()
			}
		})
	}
	host := testutil.RegistryWrapped(t, wrap)
	_, err := mirror.Push(ctx, mirror.PushOptions{Now: testNow, Source: s.dir, Reference: host + "/stellaops/mirror-bundle",
		Client: testutil.Client(t), Transfer: transferOpts()})
	if err != nil {
		mu.Lock()
		defer mu.Unlock()
		t.Fatalf("push with %s held until %d were in (%d were): %v", what, want, len(counted), err)
	}
}
