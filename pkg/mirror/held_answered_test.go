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

// answer is what a registry, or a proxy in front of it, answers instead
// of the registry once B is held: it answers r itself (and says so) where
// it takes r, given B's root.
type answer func(w http.ResponseWriter, r *http.Request, held ocispec.Descriptor) bool

// importOverAnswered imports C (101) over B (102) held in a registry whose
// answers, once B is held, answer picks, wrapping noAPI's (nil: the
// registry's referrers API answers). The import must fail closed
// (malformed) and leave C unplaced.
func importOverAnswered(t *testing.T, noAPI bool, pick answer) {
	t.Helper()
	ctx := context.Background()
	var held atomic.Pointer[ocispec.Descriptor]
	host := testutil.RegistryWrapped(t, func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if root := held.Load(); root != nil && pick(w, r, *root) {
				return
			}
			if noAPI && strings.Contains(r.URL.Path, "/referrers/") {
				http.NotFound(w, r)
				return
			}
			next.ServeHTTP(w, r)
		})
	})
	a, c, r, root := heldNewerThanC(t, host)
	held.Store(&root)
	_, err := mirror.Import(ctx, importOpts(t, c, host, a.pub))
	if !errors.Is(err, errdef.ErrMalformed) {
		t.Errorf("import of C (101): %v; want malformed", err)
	}
	if d, err := r.Resolve(ctx, "2025.11.0"); err == nil {
		t.Fatalf("C was placed over B: tag 2025.11.0 names %s", d.Digest)
	}
}

// answering answers the requests whose path match picks with body under
// contentType.
func answering(match func(path string, held ocispec.Descriptor) bool, contentType, body string) answer {
	return func(w http.ResponseWriter, r *http.Request, held ocispec.Descriptor) bool {
		if r.Method != http.MethodGet || !match(r.URL.Path, held) {
			return false
		}
		w.Header().Set("Content-Type", contentType)
		w.Write([]byte(body))
		return true
	}
}

const upstreamError = `{"errors":[{"code":"UNKNOWN","message":"upstream unavailable"}]}`

// TestHeldReferrersAnsweredNotIndex: a registry, or a proxy in front of
// it, that answers the referrers API, under an image index's media type,
// with JSON that is no image index (an error document under 200, {},
// null). It was read as an index of no referrers: the newest held root
// had no signature, was passed over as not verified, and C (101) was
// imported over B (102), a rollback. Such an answer now fails the check
// closed (exit 11).
func TestHeldReferrersAnsweredNotIndex(t *testing.T) {
	referrers := func(path string, _ ocispec.Descriptor) bool { return strings.Contains(path, "/referrers/") }
	for _, body := range []string{upstreamError, `{}`, `null`} {
		t.Run(body, func(t *testing.T) {
			importOverAnswered(t, false, answering(referrers, ocispec.MediaTypeImageIndex, body))
		})
	}
}

// TestTagListAnsweredNotTagList: a registry, or a proxy in front of it,
// that answers the bundle repository's tag list with JSON that is no tag
// list (an error document under 200, {}). It was read as a list of no
// tags: nothing held, so C (101) was imported over B (102), a rollback.
// Such an answer now fails the check closed (exit 11).
func TestTagListAnsweredNotTagList(t *testing.T) {
	tagList := func(path string, _ ocispec.Descriptor) bool {
		return strings.HasSuffix(path, "/mirror-bundle/tags/list")
	}
	for _, body := range []string{upstreamError, `{}`} {
		t.Run(body, func(t *testing.T) {
			importOverAnswered(t, false, answering(tagList, "application/json", body))
		})
	}
}

// TestHeldFallbackTagAnswered: a registry without the referrers API, or a
// proxy in front of it, that answers the sha256-<hex> fallback tag of the
// newest held root with what is no manifest (an error document under an
// image index's media type or as JSON, a proxy's page). It was read as no
// referrers: the root had no signature, was passed over as not verified,
// and C (101) was imported over B (102), a rollback. Such an answer now
// fails the check closed (exit 11).
func TestHeldFallbackTagAnswered(t *testing.T) {
	fallbackTag := func(path string, held ocispec.Descriptor) bool {
		return strings.HasSuffix(path, "/manifests/sha256-"+held.Digest.Encoded())
	}
	for _, tc := range []struct{ contentType, body string }{
		{ocispec.MediaTypeImageIndex, upstreamError},
		{"application/json", upstreamError},
		{"text/html", `<html><body>502 Bad Gateway</body></html>`},
		{ocispec.MediaTypeImageIndex, `{}`},
	} {
		t.Run(tc.contentType+" "+tc.body, func(t *testing.T) {
			importOverAnswered(t, true, answering(fallbackTag, tc.contentType, tc.body))
		})
	}
}
