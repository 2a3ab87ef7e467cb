package mirror_test

import (
	"context"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stellaops/mirror/internal/sample"
	"github.com/stellaops/mirror/internal/testutil"
	"github.com/stellaops/mirror/pkg/mirror"
	"github.com/stellaops/mirror/pkg/transfer"
)

// A bundle's small blobs (configs, SBOMs, its own files) go up beside its
// large ones, not after them: here the upload of every large blob is held
// until some small ones are in. The sample's 8 large layers fill the
// default 8 transfers; on the old code no small blob started until a large
// one was done, so their round trips were the end of every push, import
// and sync, with nothing else in flight, and here the push gave up.
func TestSmallBlobsGoBesideLargeOnes(t *testing.T) {
	s := newSignedSample(t, sample.Spec{BaseLayerSize: 3 << 19, LayerSize: 3 << 19}, 0)
	large := map[string]bool{}
	for _, img := range s.rel.Images {
		for dg, size := range img.Blobs {
			if size >= transfer.SmallItem {
				large[dg.String()] = true
			}
		}
	}
	if len(large) < transfer.DefaultConcurrency {
		t.Fatalf("the sample has %d large blobs, want at least %d", len(large), transfer.DefaultConcurrency)
	}
	const want = 4 // small blobs in before any large one
	// A held PUT is let go when the push gives up: the server cancels no
	// request whose body is unread.
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	var mu sync.Mutex
	small := 0
	beside := make(chan struct{}) // closed once want small blobs are in
	wrap := func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			dg := r.URL.Query().Get("digest")
			if r.Method != http.MethodPut || !strings.Contains(r.URL.Path, "/blobs/uploads/") || dg == "" {
				next.ServeHTTP(w, r)
				return
			}
			if large[dg] {
				select {
				case <-beside:
				case <-ctx.Done():
					http.Error(w, "held", http.StatusServiceUnavailable)
					return
				}
			}
			next.ServeHTTP(w, r)
			if !large[dg] {
				mu.Lock()
				if small++; small == want {
					close(beside)
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
		t.Fatalf("push with large uploads held until %d small blobs were in (%d were): %v", want, small, err)
	}
}
