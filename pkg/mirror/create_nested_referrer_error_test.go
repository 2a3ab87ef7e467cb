package mirror_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"

	"github.com/opencontainers/go-digest"

	"github.com/stellaops/mirror/internal/testutil"
	"github.com/stellaops/mirror/pkg/errdef"
	"github.com/stellaops/mirror/pkg/mirror"
)

// A referrer of a referrer (an SBOM's signature) that the source serves
// altered fails create naming the referrer, its subject and what its
// content hashes to, the referrer's digest once.
func TestCreateNestedReferrerErrorNamesItOnce(t *testing.T) {
	var sigDigest digest.Digest
	src := testutil.RegistryWrapped(t, func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if sigDigest == "" || r.Method != http.MethodGet || !strings.HasSuffix(r.URL.Path, "/manifests/"+sigDigest.String()) {
				next.ServeHTTP(w, r)
				return
			}
			rec := httptest.NewRecorder()
			next.ServeHTTP(rec, r)
			body := rec.Body.Bytes()
			body[len(body)-2] ^= 1 // the byte before the closing brace
			for k, v := range rec.Header() {
				w.Header()[k] = v
			}
			w.WriteHeader(rec.Code)
			_, _ = w.Write(body)
		})
	})
	r := rawRepo{t, src, "app/nestedref"}
	img := r.image("app", "", nil)
	sbom := r.image("sbom", "application/spdx+json", subjectOf(img))
	sig := r.image("sig", "application/vnd.dev.cosign.artifact.sig.v1+json", subjectOf(sbom))
	sigDigest = sig.Digest
	out := filepath.Join(t.TempDir(), "bundle")
	opts := createOpts(t, releaseOf(t, src, map[string]digest.Digest{r.name: img.Digest}), "", out)
	opts.Version = "2025.10.0"
	_, err := mirror.Create(context.Background(), opts)
	t.Logf("create: %v", err)
	if !errors.Is(err, errdef.ErrDigestMismatch) || strings.Count(err.Error(), sig.Digest.String()) != 1 || !strings.Contains(err.Error(), sbom.Digest.String()) {
		t.Errorf("create: err = %v, want ErrDigestMismatch naming %s once, and %s", err, sig.Digest, sbom.Digest)
	}
}
