package e2e

import (
	"context"
	"path/filepath"
	"slices"
	"testing"

	"github.com/stellaops/mirror/internal/golden"
	"github.com/stellaops/mirror/internal/testutil"
	"github.com/stellaops/mirror/pkg/bundle"
)

// TestGoldenBundlesDistribution: the built binary imports every golden
// bundle an earlier stella made (testdata/bundles) into the CNCF
// distribution registry, the delta over its base, at the real clock (the
// bundles and the test PKI are valid to 2125), and the registry then holds
// each image and the root under their tags, with the fallback tag of the
// signature (distribution has no referrers API). pkg/mirror's
// TestGoldenBundles reads every form in process; this is the operator's way.
func TestGoldenBundlesDistribution(t *testing.T) {
	gens, err := golden.Generations(filepath.Join(testutil.ModuleRoot(t), "testdata", "bundles"))
	if err != nil || len(gens) == 0 {
		t.Fatalf("no golden generation under testdata/bundles (%v)", err)
	}
	for _, dir := range gens {
		g, err := golden.Load(dir)
		if err != nil {
			t.Fatal(err)
		}
		for _, b := range g.Bundles {
			if b.Base != "" {
				continue // with its base, below
			}
			t.Run(filepath.Base(dir)+"/"+b.Name, func(t *testing.T) {
				target := testutil.Distribution(t)
				importGolden(t, dir, &b, target)
				for _, d := range g.Bundles {
					if d.Base == b.Name {
						importGolden(t, dir, &d, target)
					}
				}
			})
		}
	}
}

func importGolden(t *testing.T, dir string, b *golden.Bundle, target string) {
	t.Helper()
	args := []string{"mirror", "import", filepath.Join(dir, b.Forms[0]), "--registry", target, "--plain-http"}
	if b.Key != "" {
		args = append(args, "--key", filepath.Join(dir, b.Key))
	}
	if b.TrustRoot != "" {
		args = append(args, "--trust-root", filepath.Join(dir, b.TrustRoot))
	}
	if r := stella(t, nil, args...); r.code != 0 {
		t.Fatalf("bundles made by stella %s no longer import: stella %v: exit %d: %s", filepath.Base(dir), args, r.code, r.stderr)
	}
	client := testutil.Client(t)
	for _, img := range b.Images {
		repo, err := client.Repository(target + "/" + img.Repository)
		if err != nil {
			t.Fatal(err)
		}
		for _, tag := range img.Tags {
			if d, err := repo.Resolve(context.Background(), tag); err != nil || d.Digest != img.Digest {
				t.Errorf("%s: %s:%s resolves to %s (%v), want %s", b.Name, img.Repository, tag, d.Digest, err, img.Digest)
			}
		}
	}
	tags := testutil.Tags(t, target)
	fallback := "sha256-" + b.Root.Encoded()
	if got := tags[bundle.DefaultBundleRepository]; !slices.Contains(got, b.Version) || !slices.Contains(got, fallback) {
		t.Errorf("%s: bundle repository holds %v, want %s and %s", b.Name, got, b.Version, fallback)
	}
}
