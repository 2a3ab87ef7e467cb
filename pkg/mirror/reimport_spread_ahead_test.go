package mirror_test

import (
	"context"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/opencontainers/go-digest"

	"github.com/stellaops/mirror/internal/sample"
	"github.com/stellaops/mirror/internal/testutil"
	"github.com/stellaops/mirror/pkg/mirror"
)

// TestReimportAsksSpreadsAhead: a re-import asks whether the base layer
// every image shares is in each of its other repositories (four more
// images' and the bundle's) several at a time, not one after another. The
// registry holds those HEADs until two are in flight together, and the
// import completes, each blob asked for once in each repository. Before,
// the checks ahead asked only each blob's first repository, and its spread
// the others in turn: one in flight, and the barrier was never reached.
func TestReimportAsksSpreadsAhead(t *testing.T) {
	s := newSignedSample(t, sample.Spec{}, 0)
	archive := s.pack(t, ".tar")
	base := sharedLayer(s.rel)
	barrier := testutil.NewBarrier(2)
	var (
		mu    sync.Mutex
		heads map[string]int
		first atomic.Bool
	)
	count := func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.Method == http.MethodHead && strings.Contains(r.URL.Path, "/blobs/") {
				mu.Lock()
				if heads != nil {
					heads[r.URL.Path]++
				}
				mu.Unlock()
			}
			next.ServeHTTP(w, r)
		})
	}
	target := testutil.RegistryWrapped(t, func(next http.Handler) http.Handler { return count(barrier.Wrap(next)) })
	if _, err := mirror.Import(context.Background(), importOpts(t, archive, target, s.pub)); err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	heads = map[string]int{}
	mu.Unlock()
	// The first HEAD of the base layer is its first repository's, asked
	// alone: the others are asked once it says the layer is there.
	barrier.Hold(func(r *http.Request) bool {
		return r.Method == http.MethodHead && strings.HasSuffix(r.URL.Path, "/blobs/"+base.String()) && !first.CompareAndSwap(false, true)
	})
	var res *mirror.PlaceResult
	runTogether(t, barrier, "HEADs of the base layer in its other repositories, re-imported", func() (err error) {
		res, err = mirror.Import(context.Background(), importOpts(t, archive, target, s.pub))
		return err
	})
	if res.Blobs.Sent != 0 {
		t.Errorf("re-import sent %d blobs, want none", res.Blobs.Sent)
	}
	assertImported(t, s, target, res)
	mu.Lock()
	defer mu.Unlock()
	asked := 0
	for path, k := range heads {
		if strings.HasSuffix(path, "/blobs/"+base.String()) {
			asked++
		}
		if k > 1 {
			t.Errorf("HEAD %s sent %d times", path, k)
		}
	}
	if asked < 3 {
		t.Errorf("base layer asked for in %d repositories, want every image's and the bundle's", asked)
	}
}

// sharedLayer is the largest blob most images of rel share: the base layer.
func sharedLayer(rel *sample.Release) digest.Digest {
	in := map[digest.Digest]int{}
	size := map[digest.Digest]int64{}
	for _, img := range rel.Images {
		for dg, n := range img.Blobs {
			if !img.Manifests[dg] {
				in[dg]++
				size[dg] = n
			}
		}
	}
	var best digest.Digest
	for dg, k := range in {
		if k > in[best] || k == in[best] && size[dg] > size[best] {
			best = dg
		}
	}
	return best
}
