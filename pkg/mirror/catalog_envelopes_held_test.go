package mirror_test

import (
	"context"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	"oras.land/oras-go/v2/registry"

	"github.com/stellaops/mirror/internal/sample"
	"github.com/stellaops/mirror/internal/testutil"
	"github.com/stellaops/mirror/pkg/mirror"
)

// TestCatalogVerifyHoldsOneEnvelope: catalog --verify tries each DSSE
// referrer of the catalog, and anyone who may push to the repository can
// attach up to 1000 of them, each envelope up to 4 MiB. It read them all
// into memory before it checked the first (4 GB for a hostile repository,
// against a 72 MiB memory target); now each is checked as it is read, and
// the reading stops at the first that verifies. Here the signer's envelope
// is listed first and four forged ones after it: none of theirs is read.
func TestCatalogVerifyHoldsOneEnvelope(t *testing.T) {
	ctx := context.Background()
	s := newSignedSample(t, sample.Spec{}, 0)
	var o referrersOverride
	var forgedRead atomic.Int64
	forged := map[string]bool{}
	host := testutil.RegistryWrapped(t, func(next http.Handler) http.Handler {
		return o.wrap(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if _, dg, ok := strings.Cut(r.URL.Path, "/blobs/"); ok && r.Method == http.MethodGet && forged[dg] {
				forgedRead.Add(1)
			}
			next.ServeHTTP(w, r)
		}))
	})
	client := testutil.Client(t)
	repo := host + "/stellaops/mirror-bundle"
	r, catalog, signed, manifest := pushWithCatalog(t, s, client, repo)
	for i := range 4 {
		env, err := forgedEnvelope(t, manifest).Marshal()
		if err != nil {
			t.Fatal(err)
		}
		forged[digest.FromBytes(env).String()] = true
		pushSignatureReferrer(rawRepo{t: t, host: host, name: "stellaops/mirror-bundle"}, catalog.Digest, [][]byte{env}, time.Now().Add(time.Duration(i)*time.Second))
	}
	all, err := registry.Referrers(ctx, r, catalog, "")
	if err != nil || len(all) != 5 {
		t.Fatalf("catalog referrers: %v %d", err, len(all))
	}
	order := []ocispec.Descriptor{signed[0]}
	for _, d := range all {
		if d.Digest != signed[0].Digest {
			order = append(order, d)
		}
	}
	o.set(catalog.Digest, order)
	res, err := mirror.Catalog(ctx, mirror.CatalogOptions{Repository: repo, Verify: true, Trust: trustKeys(s.pub), Client: client})
	if err != nil || !res.Verified {
		t.Fatalf("catalog --verify: %v (%+v)", err, res)
	}
	if n := forgedRead.Load(); n != 0 {
		t.Errorf("%d forged envelopes read after the signer's verified: every envelope is held before any is checked", n)
	}
}
