package mirror_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"

	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/stellaops/mirror/internal/testutil"
	"github.com/stellaops/mirror/pkg/errdef"
	"github.com/stellaops/mirror/pkg/mirror"
)

// TestHeldReferrersContentTypeParameters: a registry that answers the
// referrers API with its image index under a media type with parameters
// (application/vnd.oci.image.index.v1+json; charset=utf-8), as RFC 9110
// allows. oras-go takes only the bare media type as the API's answer, so
// the listing fell back to the sha256-<hex> tag, absent where the
// signature was pushed by the API: the newest held root (B, 102) read as
// unsigned, was passed over with a warning, and C (101) was imported over
// it, exit 0, a rollback. The answer is read as the index it is.
func TestHeldReferrersContentTypeParameters(t *testing.T) {
	ctx := context.Background()
	var held atomic.Bool
	host := testutil.RegistryWrapped(t, func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if !held.Load() || !strings.Contains(r.URL.Path, "/referrers/") {
				next.ServeHTTP(w, r)
				return
			}
			rec := httptest.NewRecorder()
			next.ServeHTTP(rec, r)
			for k, v := range rec.Header() {
				w.Header()[k] = v
			}
			if rec.Header().Get("Content-Type") == ocispec.MediaTypeImageIndex {
				w.Header().Set("Content-Type", ocispec.MediaTypeImageIndex+"; charset=utf-8")
			}
			w.WriteHeader(rec.Code)
			w.Write(rec.Body.Bytes())
		})
	})
	a, c, r, _ := heldNewerThanC(t, host)
	held.Store(true)
	_, err := mirror.Import(ctx, importOpts(t, c, host, a.pub))
	if !errors.Is(err, errdef.ErrGeneration) {
		t.Errorf("import of C (101) over B (102): %v; want generation not newer", err)
	}
	if d, err := r.Resolve(ctx, "2025.11.0"); err == nil {
		t.Fatalf("C was placed over B: tag 2025.11.0 names %s", d.Digest)
	}
}
