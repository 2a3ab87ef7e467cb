package remote

import (
	"net/http"
	"sync/atomic"
)

// challengeGate holds a host's requests while its first one is in flight:
// the first meets the registry's challenge (Basic, or a bearer realm) and
// fills the host's credential cache, so that the others go with the
// credentials it asks for instead of each into a 401 of its own (a create
// walks its images at once; on a registry with htpasswd auth every request
// with credentials costs a bcrypt check, every 401 a round trip more). Only
// the first request of a run waits, and only for its own answer.
type challengeGate struct {
	claimed atomic.Bool
	done    chan struct{}
}

func newChallengeGate() *challengeGate { return &challengeGate{done: make(chan struct{})} }

// do sends req with send: at once if it is the host's first request or the
// first has had its answer, else once it has.
func (g *challengeGate) do(req *http.Request, send func(*http.Request) (*http.Response, error)) (*http.Response, error) {
	if g.claimed.CompareAndSwap(false, true) {
		defer close(g.done)
		return send(req)
	}
	select {
	case <-g.done:
	case <-req.Context().Done():
		closeBody(req)
		return nil, req.Context().Err()
	}
	return send(req)
}
