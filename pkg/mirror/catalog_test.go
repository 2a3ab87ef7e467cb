package mirror_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/stellaops/mirror/internal/sample"
	"github.com/stellaops/mirror/internal/testutil"
	"github.com/stellaops/mirror/pkg/errdef"
	"github.com/stellaops/mirror/pkg/mirror"
)

// TestCatalog: import refreshes the signed catalog, which lists every
// bundle with its generation and base; --verify checks it and refuses one
// that lists a root that is not there or is signed by another key.
func TestCatalog(t *testing.T) {
	t.Parallel()
	f := newDeltaFixture(t)
	ctx := context.Background()
	client := testutil.Client(t)
	repo := f.target + "/stellaops/mirror-bundle"
	_, deltaTar := f.create(t, f.a.dir, trustKeys(f.a.pub))
	opts := importOpts(t, deltaTar, f.target, f.a.pub)
	opts.CatalogKey, opts.CatalogPassword = f.a.priv, testPass
	if _, err := mirror.Import(ctx, opts); err != nil {
		t.Fatal(err)
	}
	res, err := mirror.Catalog(ctx, mirror.CatalogOptions{Repository: repo, Verify: true, Trust: trustKeys(f.a.pub), Client: client})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Bundles) != 2 || res.Bundles[1].Base == nil || res.Bundles[1].Base.Generation != res.Bundles[0].Generation || res.Bundles[0].Version != "2025.10.0" {
		t.Fatalf("catalog %+v", res.Bundles)
	}
	// Written again, with files for media.
	out := t.TempDir()
	w, err := mirror.Catalog(ctx, mirror.CatalogOptions{Repository: repo, Key: f.a.priv, Password: testPass, Output: out, Client: client})
	if err != nil || len(w.Files) != 2 {
		t.Fatalf("catalog --output: %v %+v", err, w)
	}
	if _, err := os.Stat(filepath.Join(out, "catalog.dsse")); err != nil {
		t.Error(err)
	}
	_, other := testKeys(t, "other")
	if _, err := mirror.Catalog(ctx, mirror.CatalogOptions{Repository: repo, Verify: true, Trust: trustKeys(other), Client: client}); !errors.Is(err, errdef.ErrSignature) {
		t.Errorf("verify with another key: %v", err)
	}
	// A catalog that lists a root the repository does not have.
	elsewhere := testutil.Distribution(t)
	if _, err := mirror.Push(ctx, mirror.PushOptions{Now: testNow, Source: f.a.dir, Reference: elsewhere + "/stellaops/mirror-bundle", Client: client,
		CatalogKey: f.a.priv, CatalogPassword: testPass, Transfer: transferOpts()}); err != nil {
		t.Fatal(err)
	}
	r, _ := client.Repository(elsewhere + "/stellaops/mirror-bundle")
	root, _ := r.Resolve(ctx, "2025.10.0")
	if err := r.Delete(ctx, root); err != nil {
		t.Fatal(err)
	}
	if _, err := mirror.Catalog(ctx, mirror.CatalogOptions{Repository: elsewhere + "/stellaops/mirror-bundle", Verify: true, Trust: trustKeys(f.a.pub), Client: client}); !errors.Is(err, errdef.ErrNotFound) {
		t.Errorf("catalog listing a deleted root: %v", err)
	}
	_ = sample.Spec{}
}

// TestCatalogOutputUnusable: an --output that cannot be a directory fails
// the command before the catalog is pushed, so the registry is not left
// with a new catalog that the command reported as failed, and no file is
// written.
func TestCatalogOutputUnusable(t *testing.T) {
	ctx := context.Background()
	host := testutil.Registry(t)
	client := testutil.Client(t)
	priv, _ := testKeys(t, "catalog")
	notDir := filepath.Join(t.TempDir(), "file")
	if err := os.WriteFile(notDir, []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	repo := host + "/stellaops/mirror-bundle"
	if _, err := mirror.Catalog(ctx, mirror.CatalogOptions{Repository: repo, Key: priv, Password: testPass, Output: notDir, Client: client}); err == nil {
		t.Fatal("catalog --output FILE: no error")
	}
	r, _ := client.Repository(repo)
	if _, err := r.Resolve(ctx, mirror.CatalogTag); err == nil {
		t.Error("the catalog was pushed although the command failed")
	}
}
