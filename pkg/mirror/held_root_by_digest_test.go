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

	"github.com/stellaops/mirror/internal/testutil"
	"github.com/stellaops/mirror/pkg/errdef"
	"github.com/stellaops/mirror/pkg/mirror"
)

// TestHeldRootAnsweredByDigest: a registry, or a proxy in front of it,
// that answers the newest held root's manifest, asked for by its digest,
// with bytes that are not it (an error document, a page, the root with a
// byte changed). No one with push rights can have a registry hold bytes
// under a digest they do not hash to: the answer is the registry's fault,
// not the root's. The rollback check passed over the root as not
// verified and imported C (101) over B (102): a rollback. It now fails
// closed, naming the root (exit 11).
func TestHeldRootAnsweredByDigest(t *testing.T) {
	for _, tc := range []struct {
		name string
		body func(real []byte) []byte
	}{
		{"an error document", func([]byte) []byte {
			return []byte(`{"errors":[{"code":"UNKNOWN","message":"upstream unavailable"}]}`)
		}},
		{"a page", func([]byte) []byte { return []byte(`<html><body>502 Bad Gateway</body></html>`) }},
		{"a byte changed", func(real []byte) []byte {
			b := bytes.Clone(real)
			b[len(b)-2] ^= 1
			return b
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx := context.Background()
			host, rootPath := registryAltering(t, tc.body)
			a, c, r, root := heldNewerThanC(t, host)
			rootPath.Store("/manifests/" + root.Digest.String())
			_, err := mirror.Import(ctx, importOpts(t, c, host, a.pub))
			if !errors.Is(err, errdef.ErrMalformed) || errors.Is(err, errdef.ErrDigestMismatch) || !strings.Contains(err.Error(), root.Digest.String()) {
				t.Errorf("import of C (101), B's root (102) answered %s by digest: %v; want malformed, naming B's root %s", tc.name, err, root.Digest)
			}
			if d, err := r.Resolve(ctx, "2025.11.0"); err == nil {
				t.Fatalf("C was placed over B: tag 2025.11.0 names %s", d.Digest)
			}
		})
	}
}

// registryAltering starts a registry whose answers to a GET of a path
// ending in what path holds (nothing, at first) carry alter's of the
// registry's body, its headers but the length kept.
func registryAltering(t *testing.T, alter func(real []byte) []byte) (host string, path *atomic.Value) {
	path = new(atomic.Value)
	path.Store("")
	host = testutil.RegistryWrapped(t, func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if p := path.Load().(string); p == "" || r.Method != http.MethodGet || !strings.HasSuffix(r.URL.Path, p) {
				next.ServeHTTP(w, r)
				return
			}
			rec := httptest.NewRecorder()
			next.ServeHTTP(rec, r)
			for k, v := range rec.Header() {
				if k != "Content-Length" {
					w.Header()[k] = v
				}
			}
			w.WriteHeader(rec.Code)
			w.Write(alter(rec.Body.Bytes()))
		})
	})
	return host, path
}
