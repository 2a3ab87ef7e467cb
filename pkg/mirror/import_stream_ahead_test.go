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
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	type outcome struct {
		res *mirror.PlaceResult
		err error
	}
	out := make(chan outcome, 1)
	go func() {
		res, err := mirror.Import(ctx, importOpts(t, archive, target, s.pub))
		out <- outcome{res, err}
	}()
	if err := barrier.Wait(ctx); err != nil {
		t.Errorf("blob HEADs of a streamed import: %v", err)
	}
	o := <-out
	if o.err != nil {
		t.Fatal(o.err)
	}
	assertImported(t, s, target, o.res)
	mu.Lock()
	defer mu.Unlock()
	for path, k := range heads {
		if k > 1 {
			t.Errorf("HEAD %s sent %d times", path, k)
		}
	}
}
