package mirror_test

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	"oras.land/oras-go/v2/registry"
	orasremote "oras.land/oras-go/v2/registry/remote"

	"github.com/stellaops/mirror/internal/sample"
	"github.com/stellaops/mirror/internal/testutil"
	"github.com/stellaops/mirror/pkg/mirror"
	"github.com/stellaops/mirror/pkg/remote"
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
	r, catalog, signed, manifest := pushWithCatalog(t, s, client, repo)
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

// pushWithCatalog pushes the signed sample to repo with its catalog signed
// by the sample's key, and returns the repository, the catalog, its one
// signature referrer and the bundle's manifest.json.
func pushWithCatalog(t *testing.T, s *signedSample, client *remote.Client, repo string) (r *orasremote.Repository, catalog ocispec.Descriptor, signed []ocispec.Descriptor, manifest []byte) {
	t.Helper()
	ctx := context.Background()
	if _, err := mirror.Push(ctx, mirror.PushOptions{Now: testNow, Source: s.dir, Reference: repo, Trust: trustKeys(s.pub), Client: client,
		CatalogKey: s.priv, CatalogPassword: testPass, Transfer: transferOpts()}); err != nil {
		t.Fatal(err)
	}
	r, err := client.Repository(repo)
	if err != nil {
		t.Fatal(err)
	}
	if catalog, err = r.Resolve(ctx, mirror.CatalogTag); err != nil {
		t.Fatal(err)
	}
	signed, err = registry.Referrers(ctx, r, catalog, "")
	if err != nil || len(signed) != 1 {
		t.Fatalf("catalog referrers: %v %v", err, signed)
	}
	if manifest, err = os.ReadFile(filepath.Join(s.dir, "manifest.json")); err != nil {
		t.Fatal(err)
	}
	return r, catalog, signed, manifest
}
