package mirror_test

import (
	"context"
	"net/http"
	"sync/atomic"
	"testing"

	"github.com/stellaops/mirror/internal/sample"
	"github.com/stellaops/mirror/internal/testutil"
	"github.com/stellaops/mirror/pkg/mirror"
)

// A hosted registry refuses a cross-repository mount when the token does
// not grant pull on the source repository (Harbor, Quay, GHCR answer 401 or
// 403; a registry without mounts 404 or 405): the blob is uploaded into
// the repository instead and the import completes. A refused mount used to
// fail the whole run.
func TestImportWhereMountsAreRefused(t *testing.T) {
	t.Parallel()
	s := newSignedSample(t, sample.Spec{}, 0)
	for _, status := range []int{http.StatusUnauthorized, http.StatusForbidden, http.StatusNotFound, http.StatusMethodNotAllowed} {
		t.Run(http.StatusText(status), func(t *testing.T) {
			var refused atomic.Int64
			target := testutil.ProxyWrapped(t, testutil.Distribution(t), func(next http.Handler) http.Handler {
				return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
					if r.Method == http.MethodPost && r.URL.Query().Has("mount") {
						refused.Add(1)
						w.Header().Set("Content-Type", "application/json")
						w.WriteHeader(status)
						w.Write([]byte(`{"errors":[{"code":"DENIED","message":"requested access to the resource is denied"}]}`))
						return
					}
					next.ServeHTTP(w, r)
				})
			})
			res, err := mirror.Import(context.Background(), importOpts(t, s.dir, target, s.pub))
			if err != nil {
				t.Fatal(err)
			}
			assertImported(t, s, target, res)
			if refused.Load() == 0 || res.Blobs.Mounted != 0 {
				t.Errorf("mounts refused %d times, %d blobs mounted: the test did not test", refused.Load(), res.Blobs.Mounted)
			}
		})
	}
}
