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

// TestHeldFallbackTagAnswered: a registry without the referrers API, or a
// proxy in front of it, that answers the sha256-<hex> fallback tag of the
// newest held root with what is no manifest (an error document under an
// image index's media type or as JSON, a proxy's page). It was read as no
// referrers: the root had no signature, was passed over as not verified,
// and C (101) was imported over B (102), a rollback. Such an answer now
// fails the check closed (exit 11).
func TestHeldFallbackTagAnswered(t *testing.T) {
	for _, tc := range []struct{ contentType, body string }{
		{ocispec.MediaTypeImageIndex, `{"errors":[{"code":"UNKNOWN","message":"upstream unavailable"}]}`},
		{"application/json", `{"errors":[{"code":"UNKNOWN","message":"upstream unavailable"}]}`},
		{"text/html", `<html><body>502 Bad Gateway</body></html>`},
		{ocispec.MediaTypeImageIndex, `{}`},
	} {
		t.Run(tc.contentType+" "+tc.body, func(t *testing.T) {
			ctx := context.Background()
			var altered atomic.Value
			altered.Store("")
			host := testutil.RegistryWrapped(t, func(next http.Handler) http.Handler {
				return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
					switch {
					case strings.Contains(r.URL.Path, "/referrers/"):
						http.NotFound(w, r) // no referrers API
					case altered.Load() != "" && r.Method == http.MethodGet && strings.HasSuffix(r.URL.Path, altered.Load().(string)):
						w.Header().Set("Content-Type", tc.contentType)
						w.Write([]byte(tc.body))
					default:
						next.ServeHTTP(w, r)
					}
				})
			})
			a, c, r, root := heldNewerThanC(t, host)
			altered.Store("/manifests/sha256-" + root.Digest.Encoded())
			_, err := mirror.Import(ctx, importOpts(t, c, host, a.pub))
			if !errors.Is(err, errdef.ErrMalformed) {
				t.Errorf("import of C (101), B's fallback tag answered %s: %v; want malformed", tc.body, err)
			}
			if d, err := r.Resolve(ctx, "2025.11.0"); err == nil {
				t.Fatalf("C was placed over B: tag 2025.11.0 names %s", d.Digest)
			}
		})
	}
}
