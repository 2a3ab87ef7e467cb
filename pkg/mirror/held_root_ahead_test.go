package mirror_test

import (
	"bytes"
	"context"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/opencontainers/go-digest"

	"github.com/stellaops/mirror/internal/testutil"
	"github.com/stellaops/mirror/pkg/bundle"
	"github.com/stellaops/mirror/pkg/mirror"
)

// A held root's verification (every generation check: here an import
// over a held release) read the root, then listed its referrers, then
// weighed them once manifest.json was read: three round trips on the
// chain, one after another. The root's digest is all the listing needs,
// so the listing now goes beside the root's GET; on the old code the
// root's GET was held alone.
func TestHeldRootReferrersListedBesideRoot(t *testing.T) {
	t.Parallel()
	held, newer := releaseAndNext(t) // both verify with held's key
	together := testutil.NewBarrier(2)
	host := testutil.RegistryWrapped(t, together.Wrap)
	placed, err := mirror.Import(context.Background(), importOpts(t, held.dir, host, held.pub))
	if err != nil {
		t.Fatal(err)
	}
	root := placed.Root.String()
	together.Hold(func(r *http.Request) bool {
		return r.Method == http.MethodGet && (strings.HasSuffix(r.URL.Path, "/manifests/"+root) || strings.HasSuffix(r.URL.Path, "/referrers/"+root))
	})
	runTogether(t, together, "the held root and its referrers", func() error {
		_, err := mirror.Import(context.Background(), importOpts(t, newer.dir, host, held.pub))
		return err
	})
}

// A held root's signature referrer whose envelope is larger than one over
// its manifest.json can be is skipped unread, now that the referrers are
// weighed before manifest.json arrives (its size is told by the metadata
// manifest): anyone who may push can attach one to every root a
// generation check verifies. Here a 1 MiB envelope is attached to the
// held root; the import over it must succeed without fetching it.
func TestHeldRootSkipsEnvelopeLargerThanItsManifest(t *testing.T) {
	t.Parallel()
	held, newer := releaseAndNext(t) // both verify with held's key
	big := bytes.Repeat([]byte("x"), 1<<20)
	bigPath := "/blobs/" + digest.FromBytes(big).String()
	var bigGets atomic.Int64
	host := testutil.RegistryWrapped(t, func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.Method == http.MethodGet && strings.HasSuffix(r.URL.Path, bigPath) {
				bigGets.Add(1)
			}
			next.ServeHTTP(w, r)
		})
	})
	placed, err := mirror.Import(context.Background(), importOpts(t, held.dir, host, held.pub))
	if err != nil {
		t.Fatal(err)
	}
	pushSignatureReferrer(rawRepo{t: t, host: host, name: bundle.DefaultBundleRepository}, placed.Root, [][]byte{big}, time.Now())
	if _, err := mirror.Import(context.Background(), importOpts(t, newer.dir, host, held.pub)); err != nil {
		t.Fatalf("import over the held root with a 1 MiB envelope attached: %v", err)
	}
	if n := bigGets.Load(); n != 0 {
		t.Errorf("the 1 MiB envelope attached to the held root was fetched %d times, want never", n)
	}
}
