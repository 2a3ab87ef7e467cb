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

// A push asks whether the registry holds each blob ahead of the blob's
// upload, not in the upload's own turn: here no upload completes (PUT)
// before the registry answered more such questions than blobs are sent at
// once. On the old code, each of the --concurrency uploads in flight asked
// for its own blob only, then waited at its PUT: no more were asked.
func TestPushAsksForBlobsAhead(t *testing.T) {
	s := newSignedSample(t, sample.Spec{Layers: 4}, 0)
	layers := map[string]bool{}
	for _, img := range s.rel.Images {
		for dg := range img.Blobs {
			if !img.Manifests[dg] {
				layers[dg.String()] = true
			}
		}
	}
	want := transfer.DefaultConcurrency + 1
	if len(layers) < want {
		t.Fatalf("the sample has %d blobs, want at least %d", len(layers), want)
	}
	// A held PUT is let go when the push gives up: the server cancels no
	// request whose body is unread.
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	var mu sync.Mutex
	answered := map[string]bool{}
	ahead := make(chan struct{}) // closed once want blobs' HEADs were answered
	wrap := func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			i := strings.LastIndex(r.URL.Path, "/blobs/")
			if i < 0 {
				next.ServeHTTP(w, r)
				return
			}
			ref := r.URL.Path[i+len("/blobs/"):]
			if r.Method == http.MethodPut && strings.HasPrefix(ref, "uploads/") {
				select {
				case <-ahead:
				case <-ctx.Done():
					http.Error(w, "held", http.StatusServiceUnavailable)
					return
				}
			}
			next.ServeHTTP(w, r)
			if r.Method == http.MethodHead && layers[ref] {
				mu.Lock()
				if !answered[ref] {
					answered[ref] = true
					if len(answered) == want {
						close(ahead)
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
		t.Fatalf("push with uploads held until %d blobs were asked for (%d were): %v", want, len(answered), err)
	}
}
