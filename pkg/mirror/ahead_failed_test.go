package mirror_test

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stellaops/mirror/internal/sample"
	"github.com/stellaops/mirror/internal/testutil"
	"github.com/stellaops/mirror/pkg/bundle"
	"github.com/stellaops/mirror/pkg/errdef"
	"github.com/stellaops/mirror/pkg/mirror"
	"github.com/stellaops/mirror/pkg/remote"
	"github.com/stellaops/mirror/pkg/transfer"
)

// TestImportEndsOnABlobCheckFailedAhead: whether the target holds each
// blob is asked ahead of its upload (checkAhead). Where such a question
// fails for good (the registry gone down) the import fails at once with
// its error, the upload in flight cut: the failure waited for the blob's
// own turn, behind an upload that a registry gone down holds until the
// idle timeout (two minutes an attempt), while the questions after it
// went on, each a chain of retries. Here the registry answers every blob
// question after the first with 503, and holds the first upload until its
// request is cancelled (or 10 s pass); one blob at a time. The bundle
// repository's blobs (the files referrer's, asked beside) are answered.
func TestImportEndsOnABlobCheckFailedAhead(t *testing.T) {
	s := newSignedSample(t, sample.Spec{}, 0)
	archive := s.dir // read at random, largest first
	var (
		mu    sync.Mutex
		first string
		down  atomic.Int64
	)
	upload := newHeldRequest()
	host := testutil.RegistryWrapped(t, func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			switch {
			case r.Method == http.MethodHead && strings.Contains(r.URL.Path, "/blobs/") && !strings.Contains(r.URL.Path, "/"+bundle.DefaultBundleRepository+"/"):
				mu.Lock()
				if first == "" {
					first = r.URL.Path
				}
				isFirst := first == r.URL.Path
				mu.Unlock()
				if !isFirst {
					upload.waitHeld()
					down.Add(1)
					http.Error(w, "down", http.StatusServiceUnavailable)
					return
				}
			case r.Method == http.MethodPost && strings.Contains(r.URL.Path, "/blobs/uploads/") && upload.hold(w, r):
				return
			}
			next.ServeHTTP(w, r)
		})
	})
	opts := importOpts(t, archive, host, s.pub)
	opts.Client = testutil.ClientWith(t, remote.Options{Retries: 2})
	opts.Transfer = transfer.Options{Backoff: time.Millisecond, Attempts: 3, Concurrency: 1}
	_, err := mirror.Import(context.Background(), opts)
	if !errors.Is(err, errdef.ErrUnavailable) || !strings.Contains(err.Error(), "HEAD") {
		t.Errorf("import with the blob questions failing: %v, want unavailable, of a blob's question", err)
	}
	if !upload.held() {
		t.Fatal("no upload was held: the test did not set the scene")
	}
	if got := upload.end(); got != "cancelled" {
		t.Errorf("the upload in flight: %s, want cancelled once a question ahead failed for good", got)
	}
	// One question's chain of retries tells it, with at most a spread's
	// question beside it; they went on past it, through every blob (46).
	if n := down.Load(); n > 6 {
		t.Errorf("%d blob questions answered 503, want the 3 tries of one (and of a spread's beside it)", n)
	}
}
