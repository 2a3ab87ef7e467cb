package mirror_test

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	"oras.land/oras-go/v2/registry"

	"github.com/stellaops/mirror/internal/sample"
	"github.com/stellaops/mirror/internal/testutil"
	"github.com/stellaops/mirror/pkg/mirror"
)

// TestCatalogVerifyTriesEachSignature: anyone who may push to the bundle
// repository can attach a signature referrer to the catalog. catalog
// --verify read only the first one the registry listed, so one attached
// ahead of the signer's failed a sound catalog (exit 5). Each is now
// tried; the catalog verifies if one of them does.
func TestCatalogVerifyTriesEachSignature(t *testing.T) {
	ctx := context.Background()
	s := newSignedSample(t, sample.Spec{}, 0)
	var o referrersOverride
	host := testutil.RegistryWrapped(t, o.wrap)
	client := testutil.Client(t)
	repo := host + "/stellaops/mirror-bundle"
	if _, err := mirror.Push(ctx, mirror.PushOptions{Now: testNow, Source: s.dir, Reference: repo, Trust: trustKeys(s.pub), Client: client,
		CatalogKey: s.priv, CatalogPassword: testPass, Transfer: transferOpts()}); err != nil {
		t.Fatal(err)
	}
	r, err := client.Repository(repo)
	if err != nil {
		t.Fatal(err)
	}
	catalog, err := r.Resolve(ctx, mirror.CatalogTag)
	if err != nil {
		t.Fatal(err)
	}
	signed, err := registry.Referrers(ctx, r, catalog, "")
	if err != nil || len(signed) != 1 {
		t.Fatalf("catalog referrers: %v %v", err, signed)
	}
	manifest, err := os.ReadFile(filepath.Join(s.dir, "manifest.json"))
	if err != nil {
		t.Fatal(err)
	}
	forged, err := forgedEnvelope(t, manifest).Marshal()
	if err != nil {
		t.Fatal(err)
	}
	pushSignatureReferrer(rawRepo{t: t, host: host, name: "stellaops/mirror-bundle"}, catalog.Digest, [][]byte{forged}, time.Now())
	all, err := registry.Referrers(ctx, r, catalog, "")
	if err != nil || len(all) != 2 {
		t.Fatalf("catalog referrers: %v %v", err, all)
	}
	first := []ocispec.Descriptor{}
	for _, d := range all {
		if d.Digest != signed[0].Digest {
			first = append(first, d)
		}
	}
	o.set(catalog.Digest, append(first, signed[0]))
	res, err := mirror.Catalog(ctx, mirror.CatalogOptions{Repository: repo, Verify: true, Trust: trustKeys(s.pub), Client: client})
	if err != nil {
		t.Fatalf("catalog --verify with the attacker's signature listed first: %v", err)
	}
	if !res.Verified || len(res.Bundles) != 1 {
		t.Errorf("result %+v", res)
	}
}
