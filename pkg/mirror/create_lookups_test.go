package mirror_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/opencontainers/go-digest"

	"github.com/stellaops/mirror/internal/testutil"
	"github.com/stellaops/mirror/pkg/bundle"
	"github.com/stellaops/mirror/pkg/mirror"
)

// lookupGate holds cosign tag lookups (HEAD or GET of a manifest named
// sha256-<hex>.sig, .att or .sbom) as they arrive, and lets those held go
// once more than limit are in flight (a bound broken: from then on it holds
// none), once the client has limit in flight and another lookup waiting
// for one of them to end (its bound, reached), or once the last of the
// total expected has arrived. The lookups a client allows at once are so
// in flight at once, and one more than limit is seen if sent, with no
// clock. It records the most it saw in flight.
type lookupGate struct {
	limit, total int

	mu                               sync.Mutex
	inFlight, arrived, waiting, peak int
	broken                           bool
	open                             chan struct{}
}

func newLookupGate(limit, total int) *lookupGate {
	return &lookupGate{limit: limit, total: total, open: make(chan struct{})}
}

// wait is the create's lookup wait hook.
func (g *lookupGate) wait(delta int) {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.waiting += delta
	g.release()
}

// release lets the held lookups go if they may; g.mu is held.
func (g *lookupGate) release() {
	g.broken = g.broken || g.inFlight > g.limit
	if g.broken || g.arrived == g.total || (g.inFlight == g.limit && g.waiting > 0) {
		close(g.open)
		g.open = make(chan struct{})
	}
}

func isCosignLookup(req *http.Request) bool {
	if !strings.Contains(req.URL.Path, "/manifests/sha256-") {
		return false
	}
	for _, s := range bundle.CosignTagSuffixes {
		if strings.HasSuffix(req.URL.Path, s) {
			return true
		}
	}
	return false
}

func (g *lookupGate) wrap(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		if !isCosignLookup(req) {
			next.ServeHTTP(w, req)
			return
		}
		g.mu.Lock()
		g.inFlight++
		g.arrived++
		g.peak = max(g.peak, g.inFlight)
		open := g.open
		g.release()
		g.mu.Unlock()
		select {
		case <-open:
		case <-req.Context().Done():
		}
		// The answer is recorded, and leaves only once the lookup no
		// longer counts: the client cannot send a lookup in this one's
		// place while this one still counts.
		rec := httptest.NewRecorder()
		next.ServeHTTP(rec, req)
		g.mu.Lock()
		g.inFlight--
		g.mu.Unlock()
		for k, v := range rec.Header() {
			w.Header()[k] = v
		}
		w.WriteHeader(rec.Code)
		_, _ = w.Write(rec.Body.Bytes())
	})
}

// create's cosign tag lookups share one bound, its concurrency, across
// every image it resolves at once: a source registry with rate limits
// sees no more lookups in flight than --concurrency says, and sees that
// many. They used to be bounded per image (4), times the images in
// flight.
func TestCreateBoundsCosignLookupsInFlight(t *testing.T) {
	// As many images as are resolved at once: each is one manifest with
	// no tags, three lookups, so the gate never holds lookups that only
	// an image not yet started could follow.
	const concurrency, images = 3, 3
	gate := newLookupGate(concurrency, images*len(bundle.CosignTagSuffixes))
	mirror.SetCosignLookupWaitHook(t, gate.wait)
	src := testutil.RegistryWrapped(t, gate.wrap)
	refs := map[string]digest.Digest{}
	for i := range images {
		name := fmt.Sprintf("app/image%d", i)
		refs[name] = rawRepo{t, src, name}.image(name, "", nil).Digest
	}
	opts := createOpts(t, releaseOf(t, src, refs), "", filepath.Join(t.TempDir(), "bundle"))
	opts.Version = "2025.10.0"
	opts.Transfer.Concurrency = concurrency
	if _, err := mirror.Create(context.Background(), opts); err != nil {
		t.Fatal(err)
	}
	gate.mu.Lock()
	defer gate.mu.Unlock()
	if gate.arrived != gate.total {
		t.Errorf("%d cosign tag lookups, want %d", gate.arrived, gate.total)
	}
	if gate.peak != concurrency {
		t.Errorf("%d cosign tag lookups in flight at once, want %d (--concurrency)", gate.peak, concurrency)
	}
}
