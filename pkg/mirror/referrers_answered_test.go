package mirror_test

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"

	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/stellaops/mirror/internal/testutil"
	"github.com/stellaops/mirror/pkg/errdef"
	"github.com/stellaops/mirror/pkg/mirror"
)

// TestHeldReferrersAnsweredNotIndex: a registry, or a proxy in front of
// it, that answers the referrers API, under an image index's media type,
// with JSON that is no image index (an error document under 200, {},
// null). It was read as an index of no referrers: the newest held root
// had no signature, was passed over as not verified, and C (101) was
// imported over B (102), a rollback. Such an answer now fails the check
// closed (exit 11).
func TestHeldReferrersAnsweredNotIndex(t *testing.T) {
	for _, body := range []string{
		`{"errors":[{"code":"UNKNOWN","message":"upstream unavailable"}]}`,
		`{}`,
		`null`,
	} {
		t.Run(body, func(t *testing.T) {
			ctx := context.Background()
			var altered atomic.Bool
			host := testutil.RegistryWrapped(t, func(next http.Handler) http.Handler {
				return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
					if altered.Load() && strings.Contains(r.URL.Path, "/referrers/") {
						w.Header().Set("Content-Type", ocispec.MediaTypeImageIndex)
						w.Write([]byte(body))
						return
					}
					next.ServeHTTP(w, r)
				})
			})
			a, c, r, _ := heldNewerThanC(t, host)
			altered.Store(true)
			_, err := mirror.Import(ctx, importOpts(t, c, host, a.pub))
			if !errors.Is(err, errdef.ErrMalformed) {
				t.Errorf("import of C (101), the referrers answered %s: %v; want malformed", body, err)
			}
			if d, err := r.Resolve(ctx, "2025.11.0"); err == nil {
				t.Fatalf("C was placed over B: tag 2025.11.0 names %s", d.Digest)
			}
		})
	}
}
