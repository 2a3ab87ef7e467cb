package mirror_test

import (
	"context"
	"errors"
	"net/http"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/opencontainers/go-digest"

	"github.com/stellaops/mirror/internal/sample"
	"github.com/stellaops/mirror/internal/testutil"
	"github.com/stellaops/mirror/pkg/errdef"
	"github.com/stellaops/mirror/pkg/mirror"
)

// A blob deleted from the source registry before or while sync copies the
// bundle fails the sync naming the blob once; it said "blob sha256:X:
// sha256:X: not found".
func TestSyncBlobGoneFromSource(t *testing.T) {
	s := newSignedSample(t, sample.Spec{Layers: 2}, 0)
	gone := digest.NewDigestFromEncoded(digest.SHA256, filepath.Base(largestBlob(t, s.dir)))
	sync := func(t *testing.T, source string) {
		_, err := mirror.Sync(context.Background(), mirror.SyncOptions{Now: testNow, Source: source + "/stellaops/mirror-bundle:" + s.rel.Spec.Version,
			Destination: testutil.Registry(t) + "/stellaops/mirror-bundle", Trust: trustKeys(s.pub), Client: testutil.Client(t), Transfer: transferOpts()})
		t.Logf("sync: %v", err)
		if !errors.Is(err, errdef.ErrNotFound) || strings.Count(err.Error(), gone.String()) != 1 {
			t.Errorf("sync: err = %v, want ErrNotFound naming %s once", err, gone)
		}
	}
	t.Run("answered 404 while syncing", func(t *testing.T) {
		source, lose := registryLosing(t, "blobs", "BLOB_UNKNOWN", gone)
		pushSampleTo(t, s, source+"/stellaops/mirror-bundle:"+s.rel.Spec.Version)
		lose()
		sync(t, source)
	})
	t.Run("deleted from distribution", func(t *testing.T) {
		source := testutil.Distribution(t)
		pushSampleTo(t, s, source+"/stellaops/mirror-bundle:"+s.rel.Spec.Version)
		testutil.Delete(t, source, "stellaops/mirror-bundle", "blobs", gone.String())
		sync(t, source)
	})
}

// registryLosing is an in-process registry that, once lose is called,
// answers 404 with the registry's error code for dg among kind ("blobs"
// or "manifests"), as one that lost it since (deleted, collected).
func registryLosing(t *testing.T, kind, code string, dg digest.Digest) (host string, lose func()) {
	t.Helper()
	var on atomic.Bool
	host = testutil.RegistryWrapped(t, func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if on.Load() && strings.HasSuffix(r.URL.Path, "/"+kind+"/"+dg.String()) {
				w.Header().Set("Content-Type", "application/json")
				w.WriteHeader(http.StatusNotFound)
				_, _ = w.Write([]byte(`{"errors":[{"code":"` + code + `","message":"unknown to registry","detail":"` + dg.String() + `"}]}`))
				return
			}
			next.ServeHTTP(w, r)
		})
	})
	return host, func() { on.Store(true) }
}
