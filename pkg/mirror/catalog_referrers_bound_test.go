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
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	"oras.land/oras-go/v2/registry"

	"github.com/stellaops/mirror/internal/sample"
	"github.com/stellaops/mirror/internal/testutil"
	"github.com/stellaops/mirror/pkg/mirror"
)

// TestCatalogReferrersBounded: every push or import with --catalog-key
// now reads the catalog in place (is it current?), as catalog --verify
// does: each of its referrers, anyone's, was fetched, 40 SBOMs attached
// to it (40 GETs), and the envelope of a signature referrer anyone
// attached, however large (here 1 MiB, listed first: fetched whole). Now only the
// referrers listed as a signature are, and no envelope larger than one
// over the catalog can be: the re-run fetches none of them, writes
// nothing, and the catalog still verifies.
func TestCatalogReferrersBounded(t *testing.T) {
	ctx := context.Background()
	s := newSignedSample(t, sample.Spec{}, 0)
	var junkGets, bigGets, writes atomic.Int64
	var junk map[string]bool
	var big string
	var o referrersOverride
	host := testutil.RegistryWrapped(t, func(next http.Handler) http.Handler {
		next = o.wrap(next)
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if i := strings.LastIndex(r.URL.Path, "/manifests/"); i >= 0 && r.Method == http.MethodGet && junk[r.URL.Path[i:]] {
				junkGets.Add(1)
			}
			if big != "" && r.Method == http.MethodGet && strings.HasSuffix(r.URL.Path, "/blobs/"+big) {
				bigGets.Add(1)
			}
			if r.Method != http.MethodGet && r.Method != http.MethodHead {
				writes.Add(1)
			}
			next.ServeHTTP(w, r)
		})
	})
	client := testutil.Client(t)
	repo := host + "/stellaops/mirror-bundle"
	r, catalog, signed, _ := pushWithCatalog(t, s, client, repo)
	junk = attachJunk(t, r, catalog, 40, false)
	envelope := bytes.Repeat([]byte("x"), 1<<20)
	pushSignatureReferrer(rawRepo{t: t, host: host, name: "stellaops/mirror-bundle"}, catalog.Digest, [][]byte{envelope}, time.Now())
	big = digest.FromBytes(envelope).String()
	// Listed first, the attached envelope, then the SBOMs, then the
	// signer's referrer.
	all, err := registry.Referrers(ctx, r, catalog, "")
	if err != nil {
		t.Fatal(err)
	}
	var first, sboms []ocispec.Descriptor
	for _, d := range all {
		switch {
		case junk["/manifests/"+d.Digest.String()]:
			sboms = append(sboms, d)
		case d.Digest != signed[0].Digest:
			first = append(first, d)
		}
	}
	if len(first) != 1 || len(sboms) != 40 {
		t.Fatalf("catalog referrers: %d attached signatures, %d SBOMs", len(first), len(sboms))
	}
	o.set(catalog.Digest, append(append(first, sboms...), signed[0]))
	writes.Store(0)
	if _, err := mirror.Push(ctx, mirror.PushOptions{Now: testNow, Source: s.dir, Reference: repo, Trust: trustKeys(s.pub), Client: client,
		CatalogKey: s.priv, CatalogPassword: testPass, Transfer: transferOpts()}); err != nil {
		t.Fatal(err)
	}
	if _, err := mirror.Catalog(ctx, mirror.CatalogOptions{Repository: repo, Verify: true, Trust: trustKeys(s.pub), Client: client}); err != nil {
		t.Errorf("catalog --verify: %v", err)
	}
	if junkGets.Load() != 0 || bigGets.Load() != 0 || writes.Load() != 0 {
		t.Errorf("re-run and --verify fetched %d SBOM referrers of the catalog and the 1 MiB envelope %d times, and wrote %d times; want none", junkGets.Load(), bigGets.Load(), writes.Load())
	}
}
