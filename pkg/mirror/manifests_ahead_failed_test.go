package mirror_test

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stellaops/mirror/internal/sample"
	"github.com/stellaops/mirror/internal/testutil"
	"github.com/stellaops/mirror/pkg/errdef"
	"github.com/stellaops/mirror/pkg/mirror"
	"github.com/stellaops/mirror/pkg/remote"
	"github.com/stellaops/mirror/pkg/transfer"
)

// TestImportEndsOnManifestChecksFailedAhead: whether the target holds each
// manifest is asked while the blobs go (askManifests). Where those
// questions fail for good (the registry gone down) the import fails at
// once with their error, the upload in flight cut: the error waited for
// the manifests' turn, behind every blob's upload, one of which a
// registry gone down holds until the idle timeout (two minutes an
// attempt). Here the registry answers the manifests' questions with 503
// and holds the first upload until its request is cancelled (or 10 s
// pass).
func TestImportEndsOnManifestChecksFailedAhead(t *testing.T) {
	s := newSignedSample(t, sample.Spec{}, 0)
	upload := newHeldRequest()
	host := testutil.RegistryWrapped(t, func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			switch {
			case r.Method == http.MethodHead && strings.Contains(r.URL.Path, "/manifests/sha256:"):
				upload.waitHeld()
				http.Error(w, "down", http.StatusServiceUnavailable)
				return
			case r.Method == http.MethodPost && strings.Contains(r.URL.Path, "/blobs/uploads/") && upload.hold(w, r):
				return
			}
			next.ServeHTTP(w, r)
		})
	})
	opts := importOpts(t, s.dir, host, s.pub)
	opts.Client = testutil.ClientWith(t, remote.Options{Retries: 2})
	opts.Transfer = transfer.Options{Backoff: time.Millisecond, Attempts: 3, Concurrency: 1}
	_, err := mirror.Import(context.Background(), opts)
	if !errors.Is(err, errdef.ErrUnavailable) || !strings.Contains(err.Error(), "manifest sha256:") {
		t.Errorf("import with the manifests' questions failing: %v, want unavailable, naming the manifest asked about", err)
	}
	if !upload.held() {
		t.Fatal("no upload was held: the test did not set the scene")
	}
	if got := upload.end(); got != "cancelled" {
		t.Errorf("the upload in flight: %s, want cancelled once the manifests' questions failed for good", got)
	}
}
