package mirror_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/stellaops/mirror/internal/testutil"
	"github.com/stellaops/mirror/pkg/errdef"
	"github.com/stellaops/mirror/pkg/mirror"
)

// TestCatalogVerifyWithItsOwnKey: a catalog signed with a key of its own
// (not the bundles' signer's), checked by catalog --verify without
// --bundle-key. A bundle published after the catalog was written does not
// verify under the catalog's key, just as one pushed by anyone does not;
// passing over it (a warning, exit 0) would pass a catalog that is out of
// date. It fails, asking for the bundles' key; with it, the catalog is out
// of date (exit 3).
func TestCatalogVerifyWithItsOwnKey(t *testing.T) {
	f := newForgedRepo(t)
	ctx := context.Background()
	client := testutil.Client(t)
	catPriv, catPub := testKeys(t, "catalog")
	if _, err := mirror.Catalog(ctx, mirror.CatalogOptions{Repository: f.repo, Key: catPriv, Password: testPass, BundleTrust: trustKeys(f.a.pub), Client: client}); err != nil {
		t.Fatal(err)
	}
	// Only the forged root is unlisted: that is no reason to fail once the
	// bundles' key is given; without it, the catalog's key signs none of
	// the bundles, so the forged root cannot be told from a new one.
	res, err := mirror.Catalog(ctx, mirror.CatalogOptions{Repository: f.repo, Verify: true, Trust: trustKeys(catPub), BundleTrust: trustKeys(f.a.pub), Client: client})
	if err != nil || res.NotVerified != 1 {
		t.Fatalf("catalog --verify --bundle-key: %v %+v", err, res)
	}
	_, err = mirror.Catalog(ctx, mirror.CatalogOptions{Repository: f.repo, Verify: true, Trust: trustKeys(catPub), Client: client})
	if !errors.Is(err, errdef.ErrUsage) || !strings.Contains(err.Error(), "--bundle-key") || !strings.Contains(err.Error(), f.forged.String()) {
		t.Fatalf("catalog --verify of its own key, a root unlisted: %v; want a usage error naming %s and asking for --bundle-key", err, f.forged)
	}
	// A genuine bundle published since.
	f.pushSigned(t, "2025.12.0", 4000000005, 13, f.a.priv)
	_, err = mirror.Catalog(ctx, mirror.CatalogOptions{Repository: f.repo, Verify: true, Trust: trustKeys(catPub), Client: client})
	if !errors.Is(err, errdef.ErrUsage) {
		t.Errorf("catalog --verify without --bundle-key, a bundle published since: %v; want a usage error, not a pass", err)
	}
	_, err = mirror.Catalog(ctx, mirror.CatalogOptions{Repository: f.repo, Verify: true, Trust: trustKeys(catPub), BundleTrust: trustKeys(f.a.pub), Client: client})
	if !errors.Is(err, errdef.ErrOutOfDate) {
		t.Errorf("catalog --verify --bundle-key, a bundle published since: %v; want out of date", err)
	}
}

// TestCatalogOutOfDateAdviceRuns: catalog --verify --bundle-key of a
// catalog signed with a key of its own, out of date (a bundle published
// since), advises writing it again with the bundle trust it was checked
// under, and that advice, followed, makes a catalog that verifies. It
// advised `stella mirror catalog REPO --key KEY` alone, which lists only
// the bundles the catalog's own key signs: none, so the catalog written
// was out of date again (exit 3), with the same advice.
func TestCatalogOutOfDateAdviceRuns(t *testing.T) {
	f := newForgedRepo(t)
	ctx := context.Background()
	client := testutil.Client(t)
	catPriv, catPub := testKeys(t, "catalog")
	bundles := mirror.TrustOptions{Keys: []string{f.a.pub}, FlagPrefix: "bundle-"}
	if _, err := mirror.Catalog(ctx, mirror.CatalogOptions{Repository: f.repo, Key: catPriv, Password: testPass, BundleTrust: bundles, Client: client}); err != nil {
		t.Fatal(err)
	}
	f.pushSigned(t, "2025.12.0", 4000000005, 13, f.a.priv)
	verify := mirror.CatalogOptions{Repository: f.repo, Verify: true, Trust: trustKeys(catPub), BundleTrust: bundles, Client: client}
	_, err := mirror.Catalog(ctx, verify)
	want := "(stella mirror catalog " + f.repo + " --key KEY --bundle-key " + f.a.pub + " --plain-http"
	if !errors.Is(err, errdef.ErrOutOfDate) || !strings.Contains(err.Error(), want) {
		t.Fatalf("catalog --verify, a bundle published since: %v; want out of date, advising %s…", err, want)
	}
	// The advice, KEY being the catalog's key.
	if _, err := mirror.Catalog(ctx, mirror.CatalogOptions{Repository: f.repo, Key: catPriv, Password: testPass, BundleTrust: bundles, Client: client}); err != nil {
		t.Fatal(err)
	}
	if _, err := mirror.Catalog(ctx, verify); err != nil {
		t.Errorf("catalog --verify after the advised catalog: %v", err)
	}
}
