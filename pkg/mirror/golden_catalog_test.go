package mirror_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/opencontainers/go-digest"

	"github.com/stellaops/mirror/internal/golden"
	"github.com/stellaops/mirror/internal/testutil"
	"github.com/stellaops/mirror/pkg/bundle"
	"github.com/stellaops/mirror/pkg/mirror"
)

// checkGoldenCatalog reads a bundle repository's catalog an earlier stella
// signed (catalog.json and catalog.dsse, as catalog --output writes them)
// with this one: the bundles it lists imported into a registry on another
// host than it was signed for, the catalog stored there as catalog stores
// it, catalog --verify passes, listing exactly their roots, and warns only
// of the host.
func checkGoldenCatalog(t *testing.T, dir string, g *golden.Generation) {
	ctx := context.Background()
	c := g.Catalog
	r := goldenReader{t: t, dir: dir, g: g, b: &golden.Bundle{Name: "catalog"}}
	host := testutil.Registry(t)
	var want []digest.Digest
	for _, name := range c.Bundles {
		b := g.Find(name)
		if b == nil {
			t.Fatalf("golden.json: the catalog lists %s, which is not in the generation", name)
		}
		br := goldenReader{t: t, dir: dir, g: g, b: b}
		if _, err := mirror.Import(ctx, br.importOpts(t, b.Forms[0], host)); err != nil {
			br.broke(b.Forms[0], "import", err)
			return
		}
		want = append(want, b.Root)
	}
	data, err := os.ReadFile(filepath.Join(dir, c.Path))
	if err != nil {
		t.Fatal(err)
	}
	env, err := os.ReadFile(filepath.Join(dir, c.Envelope))
	if err != nil {
		t.Fatal(err)
	}
	client := testutil.Client(t)
	if err := mirror.StoreCatalog(ctx, client, host, bundle.DefaultBundleRepository, data, env, g.Now); err != nil {
		t.Fatal(err)
	}
	res, err := mirror.Catalog(ctx, mirror.CatalogOptions{Repository: host + "/" + bundle.DefaultBundleRepository, Verify: true,
		Trust: mirror.TrustOptions{Keys: []string{filepath.Join(dir, c.Key)}, Now: g.Now}, Now: g.Now, Client: client})
	if err != nil {
		r.broke(c.Path, "pass catalog --verify", err)
		return
	}
	var got []digest.Digest
	for _, e := range res.Bundles {
		got = append(got, e.Root)
	}
	slices.Sort(got)
	slices.Sort(want)
	if !res.Verified || res.Repository != c.Repository || !slices.Equal(got, want) {
		r.broke(c.Path, "pass catalog --verify", fmt.Errorf("verified %v, signed for %s, roots %v; golden.json says %s, %v", res.Verified, res.Repository, got, c.Repository, want))
	}
	for _, w := range res.Warnings {
		if !strings.Contains(w, "the same repository path under another host name") {
			r.broke(c.Path, "pass catalog --verify", fmt.Errorf("warning %q", w))
		}
	}
}
