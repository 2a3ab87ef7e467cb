package remote

import (
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
}

func newChallengeGate() *challengeGate { return &challengeGate{done: make(chan struct{})} }

// open lets the requests held go.
func (g *challengeGate) open() { g.once.Do(func() { close(g.done) }) }

// do sends req with send: at once if it is the host's first request or the
// first has had its answer, else once it has, or gatePatience after it
// went.
func (g *challengeGate) do(req *http.Request, send func(*http.Request) (*http.Response, error)) (*http.Response, error) {
	if g.claimed.CompareAndSwap(false, true) {
		patience := time.AfterFunc(gatePatience, g.open)
		defer func() {
			patience.Stop()
			g.open()
		}()
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
