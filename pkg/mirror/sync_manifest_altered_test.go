package mirror_test

import (
	"bytes"
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/opencontainers/go-digest"

	"github.com/stellaops/mirror/internal/sample"
	"github.com/stellaops/mirror/internal/testutil"
	"github.com/stellaops/mirror/pkg/errdef"
	"github.com/stellaops/mirror/pkg/mirror"
)

// TestSyncManifestAlteredNamesItOnce: a source registry that serves, for
// an image manifest of the bundle asked by its digest, other bytes of the
// same length, with their own digest as Docker-Content-Digest (content
// altered in its storage), fails the sync as a digest mismatch (exit 2)
// naming the source, the manifest asked for once and the digest served.
// oras-go's words named the manifest asked for three times, in the URL,
// as the digest expected, and after "manifest".
func TestSyncManifestAlteredNamesItOnce(t *testing.T) {
	s := newSignedSample(t, sample.Spec{}, 0)
	altered := s.rel.Images[0].Descriptor.Digest
	var served atomic.Pointer[digest.Digest]
	var on atomic.Bool
	source := testutil.RegistryWrapped(t, func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if !on.Load() || r.Method != http.MethodGet || !strings.HasSuffix(r.URL.Path, "/manifests/"+altered.String()) {
				next.ServeHTTP(w, r)
				return
			}
			rec := httptest.NewRecorder()
			next.ServeHTTP(rec, r)
			body := bytes.Replace(rec.Body.Bytes(), []byte(`"schemaVersion":2`), []byte(`"schemaVersion":3`), 1)
			if bytes.Equal(body, rec.Body.Bytes()) {
				t.Errorf("manifest %s: nothing to alter in %s", altered, rec.Body.Bytes())
			}
			dg := digest.FromBytes(body)
			served.Store(&dg)
			for k, v := range rec.Header() {
				w.Header()[k] = v
			}
			w.Header().Set("Docker-Content-Digest", dg.String())
			w.WriteHeader(rec.Code)
			_, _ = w.Write(body)
		})
	})
	ref := source + "/stellaops/mirror-bundle:" + s.rel.Spec.Version
	pushSampleTo(t, s, ref)
	on.Store(true)
	_, err := mirror.Sync(context.Background(), mirror.SyncOptions{Now: testNow, Source: ref,
		Destination: testutil.Registry(t) + "/stellaops/mirror-bundle", Trust: trustKeys(s.pub), Client: testutil.Client(t), Transfer: transferOpts()})
	t.Logf("sync: %v", err)
	got := served.Load()
	if got == nil {
		t.Fatalf("sync: %v, without asking for the manifest %s", err, altered)
	}
	if !errors.Is(err, errdef.ErrDigestMismatch) || !strings.HasPrefix(err.Error(), ref+": ") ||
		strings.Count(err.Error(), altered.String()) != 1 || !strings.Contains(err.Error(), got.String()) || strings.Contains(err.Error(), "\n") {
		t.Errorf("sync: err = %v, want a digest mismatch naming %s, %s once and %s", err, ref, altered, *got)
	}
}
