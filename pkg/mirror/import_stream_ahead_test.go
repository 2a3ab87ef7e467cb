package mirror_test

import (
	"context"
	"net/http"
	"strings"
	"sync"
	"testing"

	"github.com/stellaops/mirror/internal/sample"
	"github.com/stellaops/mirror/internal/testutil"
	"github.com/stellaops/mirror/pkg/mirror"
	"github.com/stellaops/mirror/pkg/transfer"
)

// An import of another tool's one-stream archive (.tar.gz, read once in
// order) asks whether the target holds each blob ahead of the stream, not
// in each blob's turn: here the registry holds every blob HEAD until
// --concurrency of them are in flight together, and the import completes,
// each blob asked for once in its first repository. On the old code the
// stream stopped at each blob until its HEAD was answered: one in flight,
// and the barrier was never reached.
func TestStreamedImportAsksForBlobsAhead(t *testing.T) {
	s := newSignedSample(t, sample.Spec{Layers: 4}, 0)
	archive := s.foreign(t, ".tar.gz")
	n := transfer.DefaultConcurrency
	barrier := testutil.NewBarrier(n)
	barrier.Hold(func(r *http.Request) bool {
		return r.Method == http.MethodHead && strings.Contains(r.URL.Path, "/blobs/")
	})
	var mu sync.Mutex
	heads := map[string]int{}
	count := func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.Method == http.MethodHead && strings.Contains(r.URL.Path, "/blobs/") {
				mu.Lock()
				heads[r.URL.Path]++
				mu.Unlock()
			}
			next.ServeHTTP(w, r)
		})
	}
	target := testutil.RegistryWrapped(t, func(next http.Handler) http.Handler { return count(barrier.Wrap(next)) })
	var res *mirror.PlaceResult
	runTogether(t, barrier, "blob HEADs of a streamed import", func() (err error) {
		res, err = mirror.Import(context.Background(), importOpts(t, archive, target, s.pub))
		return err
	})
	assertImported(t, s, target, res)
	mu.Lock()
	defer mu.Unlock()
	for path, k := range heads {
		if k > 1 {
			t.Errorf("HEAD %s sent %d times", path, k)
		}
	}
}
