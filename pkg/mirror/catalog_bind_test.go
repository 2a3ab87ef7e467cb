package mirror_test

import (
	"context"
	"errors"
	"path/filepath"
	"strings"
	"testing"

	"oras.land/oras-go/v2"

	"github.com/stellaops/mirror/internal/sample"
	"github.com/stellaops/mirror/internal/testutil"
	"github.com/stellaops/mirror/pkg/errdef"
	"github.com/stellaops/mirror/pkg/mirror"
)

// pushBundle pushes a bundle directory to repo, re-signing the catalog when
// catalogKey is set; allowRollback lets an older generation in.
func pushBundle(t *testing.T, dir, repo, catalogKey string, allowRollback bool) {
	t.Helper()
	if _, err := mirror.Push(context.Background(), mirror.PushOptions{Now: testNow, Source: dir, Reference: repo, Client: testutil.Client(t),
		CatalogKey: catalogKey, CatalogPassword: testPass, AllowRollback: allowRollback, Transfer: transferOpts()}); err != nil {
		t.Fatal(err)
	}
}

func verifyCatalog(t *testing.T, repo, pub string) (*mirror.CatalogResult, error) {
	t.Helper()
	return mirror.Catalog(context.Background(), mirror.CatalogOptions{Repository: repo, Verify: true, Trust: trustKeys(pub), Client: testutil.Client(t)})
}

// TestCatalogVerifyBindsRepository: catalog --verify checked the
// signature of the catalog tagged in a repository, not that the catalog
// was signed for that repository, so the catalog of repository A, copied
// into repository B that holds the same bundles, passed as B's. It is now
// refused (exit 5), naming both. The same repository reached under
// another host name (localhost for 127.0.0.1) passes, with a warning.
func TestCatalogVerifyBindsRepository(t *testing.T) {
	ctx := context.Background()
	s := newSignedSample(t, sample.Spec{}, 0)
	host := testutil.Registry(t)
	a, b := host+"/stellaops/mirror-bundle", host+"/other/bundles"
	pushBundle(t, s.dir, a, s.priv, false)
	pushBundle(t, s.dir, b, s.priv, false)
	client := testutil.Client(t)
	ra, err := client.Repository(a)
	if err != nil {
		t.Fatal(err)
	}
	rb, err := client.Repository(b)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := oras.ExtendedCopy(ctx, ra, mirror.CatalogTag, rb, mirror.CatalogTag, oras.DefaultExtendedCopyOptions); err != nil {
		t.Fatal(err)
	}
	_, err = verifyCatalog(t, b, s.pub)
	if !errors.Is(err, errdef.ErrSignature) || !strings.Contains(err.Error(), a) || !strings.Contains(err.Error(), b) {
		t.Fatalf("catalog --verify of %s holding the catalog of %s: %v, want a signature failure naming both", b, a, err)
	}

	// The same repository under another name of its host.
	alias := strings.Replace(a, "127.0.0.1", "localhost", 1)
	if alias == a {
		t.Fatalf("registry %s is not on 127.0.0.1", host)
	}
	res, err := verifyCatalog(t, alias, s.pub)
	if err != nil {
		t.Fatalf("catalog --verify of %s, the catalog signed for %s: %v", alias, a, err)
	}
	if len(res.Warnings) != 1 || !strings.Contains(res.Warnings[0], host) || !strings.Contains(res.Warnings[0], alias) {
		t.Errorf("warnings %q, want one naming both hosts", res.Warnings)
	}
	if res, err := verifyCatalog(t, a, s.pub); err != nil || len(res.Warnings) != 0 {
		t.Errorf("catalog --verify of %s: %v, warnings %q", a, err, res.Warnings)
	}
}

// TestCatalogVerifyFreshness: catalog --verify passed a catalog that does
// not list the newest bundle its repository holds (one pushed without
// --catalog-key, or an older catalog tagged again), so the signed list
// could hide a newer release. It is now refused as out of date (exit 3)
// naming the bundle it leaves out; an unlisted bundle older than the
// catalog's newest passes with a warning.
func TestCatalogVerifyFreshness(t *testing.T) {
	older := newSignedSample(t, sample.Spec{}, 1)
	_, releaseFile, advisories := testutil.PushSample(t, older.source, sample.Spec{Version: "2025.11.0", Variant: 5})
	newer := filepath.Join(t.TempDir(), "bundle")
	opts := createOpts(t, releaseFile, advisories, newer)
	opts.Generation = 2
	if _, err := mirror.Create(context.Background(), opts); err != nil {
		t.Fatal(err)
	}
	sign(t, newer, older.priv)
	newerRoot := readManifest(t, newer)
	host := testutil.Registry(t)

	repo := host + "/stellaops/mirror-bundle"
	pushBundle(t, older.dir, repo, older.priv, false)
	pushBundle(t, newer, repo, "", false) // the catalog lists generation 1 only
	_, err := verifyCatalog(t, repo, older.pub)
	if !errors.Is(err, errdef.ErrOutOfDate) || !strings.Contains(err.Error(), newerRoot.BundleID) || !strings.Contains(err.Error(), "generation 2") {
		t.Fatalf("catalog --verify of a catalog that leaves out generation 2: %v, want out of date naming %s", err, newerRoot.BundleID)
	}
	if _, err := mirror.Catalog(context.Background(), mirror.CatalogOptions{Repository: repo, Key: older.priv, Password: testPass, Client: testutil.Client(t)}); err != nil {
		t.Fatal(err)
	}
	if res, err := verifyCatalog(t, repo, older.pub); err != nil || len(res.Bundles) != 2 || len(res.Warnings) != 0 {
		t.Fatalf("catalog --verify once written again: %v %+v", err, res)
	}

	// An unlisted bundle older than the newest the catalog lists.
	repo = host + "/other/bundles"
	pushBundle(t, newer, repo, older.priv, false)
	pushBundle(t, older.dir, repo, "", true)
	res, err := verifyCatalog(t, repo, older.pub)
	if err != nil {
		t.Fatalf("catalog --verify with an older bundle unlisted: %v", err)
	}
	if len(res.Warnings) != 1 || !strings.Contains(res.Warnings[0], readManifest(t, older.dir).BundleID) {
		t.Errorf("warnings %q, want one naming the unlisted bundle", res.Warnings)
	}
}
