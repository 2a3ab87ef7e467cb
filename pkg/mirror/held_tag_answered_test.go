package mirror_test

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"

	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/stellaops/mirror/internal/sample"
	"github.com/stellaops/mirror/internal/testutil"
	"github.com/stellaops/mirror/pkg/errdef"
	"github.com/stellaops/mirror/pkg/mirror"
)

// TestHeldTagAnswered: a registry, or a proxy in front of it, that
// answers the tag of the newest bundle held with what is no manifest: no
// JSON at all (an HTML error page under a manifest media type, no digest
// header), or JSON without a schemaVersion (an error document, {}, null).
// The rollback check read it as a tag of something else than a bundle,
// counted nothing held under it, and imported an older bundle over the
// newer. Such an answer now fails the check closed, naming the tag (exit
// 11).
func TestHeldTagAnswered(t *testing.T) {
	for _, body := range []string{
		`<html><body>502 Bad Gateway</body></html>`,
		`{"errors":[{"code":"UNKNOWN","message":"upstream unavailable"}]}`,
		`{"mediaType":"application/vnd.oci.image.index.v1+json"}`,
		`{}`,
		`null`,
		`[]`,
		`"x"`,
	} {
		t.Run(body, func(t *testing.T) {
			ctx := context.Background()
			newer := newSignedSample(t, sample.Spec{Version: "2025.12.0", Variant: 7}, fixedTime.Unix()+2)
			older := newSignedSample(t, sample.Spec{Version: "2025.11.0", Variant: 5}, fixedTime.Unix()+1)
			sign(t, older.dir, newer.priv)
			var altered atomic.Bool
			host := testutil.RegistryWrapped(t, func(next http.Handler) http.Handler {
				return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
					if altered.Load() && strings.HasSuffix(r.URL.Path, "/manifests/2025.12.0") {
						w.Header().Set("Content-Type", ocispec.MediaTypeImageIndex)
						if r.Method == http.MethodGet {
							w.Write([]byte(body))
						}
						return
					}
					next.ServeHTTP(w, r)
				})
			})
			if _, err := mirror.Import(ctx, importOpts(t, newer.dir, host, newer.pub)); err != nil {
				t.Fatal(err)
			}
			altered.Store(true)
			_, err := mirror.Import(ctx, importOpts(t, older.dir, host, newer.pub))
			if !errors.Is(err, errdef.ErrMalformed) || !strings.Contains(err.Error(), "2025.12.0") {
				t.Errorf("import of an older bundle, the newer's tag answered %s: %v; want malformed, naming the tag", body, err)
			}
		})
	}
}
