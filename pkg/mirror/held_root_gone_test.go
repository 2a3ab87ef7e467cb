package mirror_test

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/stellaops/mirror/internal/testutil"
	"github.com/stellaops/mirror/pkg/errdef"
	"github.com/stellaops/mirror/pkg/mirror"
)

// TestHeldRootNotFoundByDigest: a registry, or a proxy in front of it,
// that answers the newest held root's tag, but the root asked for by its
// digest "not found" (a proxy that passes only tags, a replica behind).
// The rollback check passed over the root as not verified and imported C
// (101) over B (102): a rollback. A root its tag still names is held: the
// check now fails closed, naming it (exit 11). One deleted since its tag
// was read (the tag gone too when asked again) is still nothing held.
func TestHeldRootNotFoundByDigest(t *testing.T) {
	for _, deleted := range []bool{false, true} {
		name := map[bool]string{false: "tag still names it", true: "deleted since the tag was read"}[deleted]
		t.Run(name, func(t *testing.T) {
			ctx := context.Background()
			var rootPath, tagPath atomic.Value
			rootPath.Store("")
			tagPath.Store("")
			host := testutil.RegistryWrapped(t, func(next http.Handler) http.Handler {
				return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
					gone := func(p string) bool { return p != "" && strings.HasSuffix(r.URL.Path, p) }
					if gone(rootPath.Load().(string)) || r.Method == http.MethodHead && gone(tagPath.Load().(string)) {
						w.Header().Set("Content-Type", "application/json")
						w.WriteHeader(http.StatusNotFound)
						w.Write([]byte(`{"errors":[{"code":"MANIFEST_UNKNOWN","message":"manifest unknown"}]}`))
						return
					}
					next.ServeHTTP(w, r)
				})
			})
			a, c, r, root := heldNewerThanC(t, host)
			rootPath.Store("/manifests/" + root.Digest.String())
			if deleted {
				tagPath.Store("/manifests/2025.12.0")
			}
			_, err := mirror.Import(ctx, importOpts(t, c, host, a.pub))
			if deleted {
				if err != nil {
					t.Errorf("import of C (101), B (102) deleted since its tag was read: %v; want it placed", err)
				}
				return
			}
			if !errors.Is(err, errdef.ErrMalformed) || !strings.Contains(err.Error(), root.Digest.String()) {
				t.Errorf("import of C (101), B's root (102) not found by digest: %v; want malformed, naming B's root %s", err, root.Digest)
			}
			if d, err := r.Resolve(ctx, "2025.11.0"); err == nil {
				t.Fatalf("C was placed over B: tag 2025.11.0 names %s", d.Digest)
			}
		})
	}
}
