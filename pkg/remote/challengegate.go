package remote

import (
	"context"
	"errors"
	"net/http"
	"sync"
	"sync/atomic"
	"time"
)

// gatePatience is how long a host's other requests wait for its first
// answer. A first request is answered in a few round trips (its challenge,
// a token, the request again); one that takes longer is taken as stalled
// (a connection a load balancer dropped without a word waits through the
// idle timeout, two minutes an attempt), and the others go on their own,
// each meeting the challenge itself if it must.
var gatePatience = 3 * time.Second

// challengeGate holds a host's requests while its first one is in flight:
// the first meets the registry's challenge (Basic, or a bearer realm) and
// fills the host's credential cache, so that the others go with the
// credentials it asks for instead of each into a 401 of its own (a create
// walks its images at once; on a registry with htpasswd auth every request
// with credentials costs a bcrypt check, every 401 a round trip more). Only
// the first request of a run waits, and only for its own answer, or
// gatePatience.
type challengeGate struct {
	claimed atomic.Bool
	once    sync.Once
	done    chan struct{}
	// failed is set, before done is closed, where the first request ended
	// in a failure, its retries spent (failedForGood); never once the
	// others went on without its answer (gatePatience).
	failed atomic.Bool
}

func newChallengeGate() *challengeGate { return &challengeGate{done: make(chan struct{})} }

// open lets the requests held go, failed saying whether the first request
// failed for good; only the first call counts.
func (g *challengeGate) open(failed bool) {
	g.once.Do(func() {
		g.failed.Store(failed)
		close(g.done)
	})
}

// do sends req with send: at once if it is the host's first request or the
// first has had its answer, else once it has, or gatePatience after it
// went.
func (g *challengeGate) do(req *http.Request, send func(*http.Request) (*http.Response, error)) (*http.Response, error) {
	if g.claimed.CompareAndSwap(false, true) {
		patience := time.AfterFunc(gatePatience, func() { g.open(false) })
		failed := false
		defer func() {
			patience.Stop()
			g.open(failed)
		}()
		resp, err := send(req)
		failed = failedForGood(req, resp, err)
		return resp, err
	}
	select {
	case <-g.done:
	case <-req.Context().Done():
		closeBody(req)
		return nil, req.Context().Err()
	}
	return send(req)
}

// failedForGood reports whether a request's final answer (its retries
// spent) is a failure of the registry's: no answer, one of a server error
// or of too many requests, or a refusal of the credentials. Not found is an
// answer; a request whose own context ended is no news of the registry.
func failedForGood(req *http.Request, resp *http.Response, err error) bool {
	if err != nil {
		return req.Context().Err() == nil && !errors.Is(err, context.Canceled) && !errors.Is(err, context.DeadlineExceeded)
	}
	switch c := resp.StatusCode; {
	case c >= http.StatusInternalServerError, c == http.StatusTooManyRequests, c == http.StatusUnauthorized, c == http.StatusForbidden:
		return true
	}
	return false
}
