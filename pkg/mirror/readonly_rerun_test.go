package mirror_test

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/opencontainers/go-digest"

	"github.com/stellaops/mirror/internal/sample"
	"github.com/stellaops/mirror/internal/testutil"
	"github.com/stellaops/mirror/pkg/mirror"
)

// readOnlyFront is a handler in front of a registry that, once armed,
// refuses every write (PUT, POST, PATCH, DELETE) with 405, as a registry
// in read-only mode or a pull-through cache does, and records them; and,
// with dropDigest, answers HEAD without Docker-Content-Digest.
type readOnlyFront struct {
	armed, dropDigest atomic.Bool
	mu                sync.Mutex
	refused           []string
}

func (f *readOnlyFront) wrap(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if f.dropDigest.Load() && r.Method == http.MethodHead {
			w = &editWriter{ResponseWriter: w, edit: func(h http.Header) { h.Del("Docker-Content-Digest") }}
		}
		if f.armed.Load() && r.Method != http.MethodGet && r.Method != http.MethodHead {
			f.mu.Lock()
			f.refused = append(f.refused, r.Method+" "+r.URL.Path)
			f.mu.Unlock()
			http.Error(w, `{"errors":[{"code":"UNSUPPORTED","message":"read-only"}]}`, http.StatusMethodNotAllowed)
			return
		}
		next.ServeHTTP(w, r)
	})
}

func (f *readOnlyFront) writes() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.refused...)
}

// TestRerunReadOnly: import and push with --catalog-key, run again into
// the same registry, now refusing every write (405), with and without the
// referrers API, and with a registry whose HEAD answers carry no
// Docker-Content-Digest. The re-run signed the catalog again (a new
// generatedAt: new bytes, a write the registry refuses) and failed: "push
// blob ... response status code 405". Now a catalog that verifies under
// the catalog key and lists exactly the bundles it would list is left as
// it is: the re-run writes nothing and passes. Without the digest on HEAD
// the first run failed ("read back: HTTP HEAD request missing required
// header"): a tag is now resolved by GET where HEAD does not say.
func TestRerunReadOnly(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := newSignedSample(t, sample.Spec{}, 0)
	for _, reg := range []struct {
		name string
		host func(testing.TB, func(http.Handler) http.Handler) string
	}{
		{"referrers API", testutil.RegistryWrapped},
		{"fallback tag", func(t testing.TB, wrap func(http.Handler) http.Handler) string {
			return testutil.ProxyWrapped(t, testutil.RegistryNoReferrers(t), wrap)
		}},
	} {
		for _, dropDigest := range []bool{false, true} {
			for name, run := range map[string]func(host string) (*mirror.PlaceResult, error){
				"import": func(host string) (*mirror.PlaceResult, error) {
					opts := importOpts(t, s.dir, host, s.pub)
					opts.CatalogKey, opts.CatalogPassword = s.priv, testPass
					return mirror.Import(ctx, opts)
				},
				"push": func(host string) (*mirror.PlaceResult, error) {
					return mirror.Push(ctx, mirror.PushOptions{Now: testNow, Source: s.dir, Reference: host + "/stellaops/mirror-bundle",
						Trust: trustKeys(s.pub), CatalogKey: s.priv, CatalogPassword: testPass, Client: testutil.Client(t), Transfer: transferOpts()})
				},
			} {
				t.Run(fmt.Sprintf("%s/no digest on HEAD %v/%s", reg.name, dropDigest, name), func(t *testing.T) {
					var f readOnlyFront
					f.dropDigest.Store(dropDigest)
					host := reg.host(t, f.wrap)
					first, err := run(host)
					if err != nil {
						t.Fatal(err)
					}
					catalog := catalogDigest(t, host)
					f.armed.Store(true)
					again, err := run(host)
					if err != nil {
						t.Fatalf("re-run on a read-only registry: %v", err)
					}
					if w := f.writes(); len(w) != 0 {
						t.Errorf("re-run sent %d writes: %s", len(w), strings.Join(w, ", "))
					}
					if again.Tags != 0 || again.TagsInPlace != first.Tags || again.Root != first.Root {
						t.Errorf("re-run: %d tags written, %d in place, root %s; want 0, %d, %s", again.Tags, again.TagsInPlace, again.Root, first.Tags, first.Root)
					}
					if got := catalogDigest(t, host); got != catalog {
						t.Errorf("the catalog tag names %s after the re-run, %s before", got, catalog)
					}
					if _, err := mirror.Catalog(ctx, mirror.CatalogOptions{Repository: host + "/stellaops/mirror-bundle", Verify: true, Trust: trustKeys(s.pub), Client: testutil.Client(t)}); err != nil {
						t.Errorf("catalog --verify after the re-run: %v", err)
					}
				})
			}
		}
	}
}

// catalogDigest is the digest the catalog tag of host's bundle
// repository names, by GET.
func catalogDigest(t *testing.T, host string) digest.Digest {
	t.Helper()
	r, err := testutil.Client(t).Repository(host + "/stellaops/mirror-bundle")
	if err != nil {
		t.Fatal(err)
	}
	d, rc, err := r.FetchReference(context.Background(), mirror.CatalogTag)
	if err != nil {
		t.Fatalf("catalog tag: %v", err)
	}
	rc.Close()
	return d.Digest
}
