package mirror_test

import (
	"context"
	"path/filepath"
	"slices"
	"testing"

	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	"oras.land/oras-go/v2/registry"

	"github.com/stellaops/mirror/internal/testutil"
	"github.com/stellaops/mirror/pkg/bundle"
	"github.com/stellaops/mirror/pkg/mirror"
)

// An image with a signature, an SBOM and an attestation (and the SBOM a
// signature of its own), and the bundle's own signature and files
// referrers on its root, imported and pushed into registries without the
// referrers API, where each subject's referrers share one fallback index
// that every push of a referrer reads and rewrites: after the manifests go
// in waves, every referrer is still listed under its subject, in every
// repository it went to, and every tag names the manifest it should.
func TestFallbackTagKeepsEveryReferrer(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	src := testutil.Registry(t)
	r := rawRepo{t, src, "app/image"}
	img := r.image("app", "", nil)
	subject := &ocispec.Descriptor{MediaType: img.MediaType, Digest: img.Digest, Size: img.Size}
	sig := r.image("sig", "application/vnd.dev.cosign.artifact.sig.v1+json", subject)
	sbom := r.image("sbom", "application/spdx+json", subject)
	att := r.image("att", "application/vnd.in-toto+json", subject)
	sbomSig := r.image("sbom-sig", "application/vnd.dev.cosign.artifact.sig.v1+json", &ocispec.Descriptor{MediaType: sbom.MediaType, Digest: sbom.Digest, Size: sbom.Size})
	want := map[digest.Digest][]digest.Digest{img.Digest: {sig.Digest, sbom.Digest, att.Digest}, sbom.Digest: {sbomSig.Digest}}

	out := filepath.Join(t.TempDir(), "bundle")
	opts := createOpts(t, releaseOf(t, src, map[string]digest.Digest{r.name: img.Digest}), "", out)
	opts.Version = "2025.10.0"
	if _, err := mirror.Create(ctx, opts); err != nil {
		t.Fatal(err)
	}
	priv, pub := testKeys(t, "signer")
	sign(t, out, priv)

	check := func(t *testing.T, dst, repoName string, want map[digest.Digest][]digest.Digest) {
		t.Helper()
		repo, err := testutil.Client(t).Repository(dst + "/" + repoName)
		if err != nil {
			t.Fatal(err)
		}
		for s, refs := range want {
			got, err := registry.Referrers(ctx, repo, ocispec.Descriptor{MediaType: ocispec.MediaTypeImageManifest, Digest: s}, "")
			if err != nil {
				t.Fatalf("%s/%s: referrers of %s: %v", dst, repoName, s, err)
			}
			for _, ref := range refs {
				if !slices.ContainsFunc(got, func(d ocispec.Descriptor) bool { return d.Digest == ref }) {
					t.Errorf("%s/%s: referrers of %s are %v, want %s among them", dst, repoName, s, got, ref)
				}
			}
		}
	}
	checkTag := func(t *testing.T, dst, repoName, tag string, want digest.Digest) {
		t.Helper()
		repo, err := testutil.Client(t).Repository(dst + "/" + repoName)
		if err != nil {
			t.Fatal(err)
		}
		d, err := repo.Resolve(ctx, tag)
		if err != nil || d.Digest != want {
			t.Errorf("%s/%s:%s names %s (%v), want %s", dst, repoName, tag, d.Digest, err, want)
		}
	}
	for name, target := range map[string]func(testing.TB) string{"no referrers API": testutil.RegistryNoReferrers, "distribution v2.8": testutil.DistributionV2} {
		t.Run(name, func(t *testing.T) {
			dst := target(t)
			res, err := mirror.Import(ctx, importOpts(t, out, dst, pub))
			if err != nil {
				t.Fatal(err)
			}
			check(t, dst, r.name, want)
			check(t, dst, bundle.DefaultBundleRepository, want)
			checkTag(t, dst, r.name, "2025.10.0", img.Digest)
			checkTag(t, dst, bundle.DefaultBundleRepository, "2025.10.0", res.Root)
			b, err := testutil.Client(t).Repository(dst + "/" + bundle.DefaultBundleRepository)
			if err != nil {
				t.Fatal(err)
			}
			refs, err := registry.Referrers(ctx, b, ocispec.Descriptor{MediaType: ocispec.MediaTypeImageIndex, Digest: res.Root}, "")
			if err != nil {
				t.Fatal(err)
			}
			kinds := map[string]int{}
			for _, d := range refs {
				kinds[d.ArtifactType]++
			}
			if len(refs) != 2 || kinds[bundle.ArtifactTypeDSSE] != 1 || kinds[bundle.ArtifactTypeFiles] != 1 {
				t.Errorf("referrers of the root %s: %v, want the signature and the files referrer", res.Root, refs)
			}

			pushed, err := mirror.Push(ctx, mirror.PushOptions{Now: testNow, Source: out, Reference: dst + "/pushed/bundle",
				Client: testutil.Client(t), Transfer: transferOpts()})
			if err != nil {
				t.Fatal(err)
			}
			check(t, dst, "pushed/bundle", want)
			checkTag(t, dst, "pushed/bundle", "2025.10.0", pushed.Root)
		})
	}
}
