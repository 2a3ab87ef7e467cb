package mirror_test

import (
	"context"
	"maps"
	"path/filepath"
	"slices"
	"testing"

	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/stellaops/mirror/internal/testutil"
	"github.com/stellaops/mirror/pkg/bundle"
	"github.com/stellaops/mirror/pkg/mirror"
)

// An SBOM attached to an image, then signed by its own digest (cosign
// sign repo@<sbom digest>), has its signature under cosign's tag for the
// SBOM, not for the image: create carries it, whether the SBOM is an OCI
// referrer of the image or cosign attach sbom's .sbom tag, and cosign
// verify of the SBOM passes on the far side, with the referrers API and
// on distribution. create used to look up cosign tags of the image's own
// manifests only, and left those signatures behind.
func TestCosignSignatureOfAnSBOMCrossesTheGap(t *testing.T) {
	t.Parallel()
	run := cosignRunner(t)
	ctx := context.Background()
	src := testutil.Registry(t)
	r := rawRepo{t, src, "app/sbom"}
	img := r.image("app", "", nil)
	priv, pub := testKeys(t, "vendor")
	insecure := []string{"--allow-insecure-registry", "--allow-http-registry"}
	signed := func(d digest.Digest) {
		t.Helper()
		if err := run(append([]string{"sign", "--key", priv, "--tlog-upload=false", src + "/" + r.name + "@" + d.String()}, insecure...)...); err != nil {
			t.Fatal(err)
		}
	}
	signed(img.Digest)
	referrer := r.image("spdx sbom", "application/spdx+json", subjectOf(img))
	signed(referrer.Digest)
	sbomFile := filepath.Join(t.TempDir(), "sbom.spdx.json")
	writeFile(t, sbomFile, `{"spdxVersion":"SPDX-2.3","name":"app"}`)
	if err := run(append([]string{"attach", "sbom", "--sbom", sbomFile, "--type", "spdx", src + "/" + r.name + "@" + img.Digest.String()}, insecure...)...); err != nil {
		t.Fatal(err)
	}
	srcRepo, err := testutil.Client(t).Repository(src + "/" + r.name)
	if err != nil {
		t.Fatal(err)
	}
	attached, err := srcRepo.Resolve(ctx, bundle.CosignTag(img.Digest, ".sbom"))
	if err != nil {
		t.Fatal(err)
	}
	signed(attached.Digest)

	dir := filepath.Join(t.TempDir(), "bundle")
	opts := createOpts(t, releaseOf(t, src, map[string]digest.Digest{r.name: img.Digest}), "", dir)
	opts.Version = "2025.10.0"
	if _, err := mirror.Create(ctx, opts); err != nil {
		t.Fatal(err)
	}
	var tags []string
	for _, ref := range readManifest(t, dir).Images[0].Referrers {
		if ref.Tag != "" {
			tags = append(tags, ref.Tag)
		}
	}
	want := []string{
		bundle.CosignTag(img.Digest, ".sig"), bundle.CosignTag(img.Digest, ".sbom"),
		bundle.CosignTag(referrer.Digest, ".sig"), bundle.CosignTag(attached.Digest, ".sig"),
	}
	slices.Sort(tags)
	slices.Sort(want)
	if !slices.Equal(tags, want) {
		t.Errorf("manifest.json carries cosign tags %v, want %v", tags, want)
	}
	sign(t, dir, priv)
	for name, target := range map[string]func(testing.TB) string{"referrers API": testutil.Registry, "distribution": testutil.Distribution} {
		t.Run(name, func(t *testing.T) {
			dst := target(t)
			if _, err := mirror.Import(ctx, importOpts(t, dir, dst, pub)); err != nil {
				t.Fatal(err)
			}
			for _, d := range []digest.Digest{img.Digest, referrer.Digest, attached.Digest} {
				if err := run(append([]string{"verify", "--key", pub, "--insecure-ignore-tlog", dst + "/" + r.name + "@" + d.String()}, insecure...)...); err != nil {
					t.Errorf("%s: %v", d, err)
				}
			}
		})
	}
}

// Tags of tags are looked up one level at a time, each manifest once: a
// source whose signatures sign each other (S1's tag names S2, S2's names
// S1) ends, with every tag carried and written on the far side. (A chain
// of them past bundle.MaxDepth: TestCreatePassesOverReferrerChainsPastTheBound.)
func TestCosignTagsOfTagsEnd(t *testing.T) {
	ctx := context.Background()
	src := testutil.Registry(t)
	client := testutil.Client(t)

	t.Run("cycle", func(t *testing.T) {
		r := rawRepo{t, src, "app/cycle"}
		img := r.image("app", "", nil)
		s1, s2 := r.image("s1", "", nil), r.image("s2", "", nil)
		repo, _ := client.Repository(src + "/" + r.name)
		tags := map[string]digest.Digest{}
		for tag, d := range map[string]ocispec.Descriptor{
			bundle.CosignTag(img.Digest, ".sig"): s1,
			bundle.CosignTag(s1.Digest, ".sig"):  s2,
			bundle.CosignTag(s2.Digest, ".sig"):  s1,
		} {
			if err := repo.Tag(ctx, d, tag); err != nil {
				t.Fatal(err)
			}
			tags[tag] = d.Digest
		}
		dir := filepath.Join(t.TempDir(), "bundle")
		opts := createOpts(t, releaseOf(t, src, map[string]digest.Digest{r.name: img.Digest}), "", dir)
		opts.Version = "2025.10.0"
		if _, err := mirror.Create(ctx, opts); err != nil {
			t.Fatal(err)
		}
		got := map[string]digest.Digest{}
		for _, ref := range readManifest(t, dir).Images[0].Referrers {
			if ref.Tag != "" {
				got[ref.Tag] = ref.Digest
			}
		}
		if !maps.Equal(got, tags) {
			t.Fatalf("manifest.json carries cosign tags %v, want %v", got, tags)
		}
		priv, pub := testKeys(t, "vendor")
		sign(t, dir, priv)
		dst := testutil.Distribution(t)
		if _, err := mirror.Import(ctx, importOpts(t, dir, dst, pub)); err != nil {
			t.Fatal(err)
		}
		far, _ := client.Repository(dst + "/" + r.name)
		for tag, want := range tags {
			if d, err := far.Resolve(ctx, tag); err != nil || d.Digest != want {
				t.Errorf("%s on the far side names %v (%v), want %s", tag, d.Digest, err, want)
			}
		}
	})
}
