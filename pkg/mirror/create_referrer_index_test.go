package mirror_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/opencontainers/go-digest"
	"github.com/opencontainers/image-spec/specs-go"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	"oras.land/oras-go/v2/registry"

	"github.com/stellaops/mirror/internal/testutil"
	"github.com/stellaops/mirror/pkg/bundle"
	"github.com/stellaops/mirror/pkg/mirror"
)

// A referrer of an image (or a manifest under a cosign tag of it) that is
// an index listing an OCI artifact manifest, itself or through an inner
// index, is one no registry takes: create passes over it as over a
// referrer of the artifact manifest's media type, with a warning naming
// it, and carries the image and its good signature, nothing of the
// refused referrer in the bundle (not the image manifest beside the inner
// index, nor its blobs). create refused the whole image (exit 11), so one
// bad attachment in the source kept a release from crossing.
func TestCreatePassesOverAReferrerIndexListingAnArtifactManifest(t *testing.T) {
	for name, start := range map[string]func(testing.TB) string{"referrers API": testutil.Registry, "fallback tag": testutil.RegistryNoReferrers} {
		t.Run(name, func(t *testing.T) {
			src := start(t)
			r := rawRepo{t, src, "app/refindex"}
			img := r.image("app", "", nil)
			sig := r.image("sig", "application/vnd.dev.cosign.artifact.sig.v1+json", subjectOf(img))
			artifact := func(seed string) ocispec.Descriptor {
				return r.pushJSON(bundle.MediaTypeArtifactManifest, map[string]any{"mediaType": bundle.MediaTypeArtifactManifest, "artifactType": "application/x.test", "annotations": map[string]string{"seed": seed}})
			}
			refIndex := func(subject *ocispec.Descriptor, entries ...ocispec.Descriptor) ocispec.Descriptor {
				doc := map[string]any{"schemaVersion": 2, "mediaType": ocispec.MediaTypeImageIndex, "artifactType": "application/x.bundle", "manifests": entries}
				if subject != nil {
					doc["subject"] = subject
				}
				return r.pushJSON(ocispec.MediaTypeImageIndex, doc)
			}
			direct := refIndex(subjectOf(img), artifact("direct"))
			beside := r.image("beside", "", nil)
			inner := refIndex(nil, artifact("inner"))
			nested := refIndex(subjectOf(img), beside, inner)
			att := refIndex(nil, artifact("att"))
			r.tag(att, strings.Replace(img.Digest.String(), ":", "-", 1)+".att")
			refused := []ocispec.Descriptor{direct, nested, att}

			out, logs := createCarrying(t, src, r.name, img, sig)
			held := bundleBlobs(t, out)
			besideDoc := fetchManifest(t, src, r.name, beside)
			for _, d := range append(refused, inner, beside, besideDoc.Config, besideDoc.Layers[0]) {
				if held[d.Digest] {
					t.Errorf("the bundle holds %s (%s) of a referrer create did not carry", d.Digest, d.MediaType)
				}
			}
			warnedOnce(t, logs, "referrer not carried: an index of it lists an entry that is no image manifest or index", refused...)
			importCarries(t, out, r.name, img, sig)
		})
	}
}

// A referrer holding indexes nested deeper than a bundle's readers take,
// one listed for the image that names another subject (as a fallback tag
// anyone may write can list it), one whose layer
// claims an index's media type, and a layer of the image listed as a
// referrer, are passed over with a warning each, the image and its good
// signature carried. create refused the image.
func TestCreatePassesOverReferrersNoReaderTakes(t *testing.T) {
	var o referrersOverride
	src := testutil.RegistryWrapped(t, o.wrap)
	r := rawRepo{t, src, "app/refbad"}
	img := r.image("app", "", nil)
	sig := r.image("sig", "application/vnd.dev.cosign.artifact.sig.v1+json", subjectOf(img))
	chain := []ocispec.Descriptor{r.index(r.image("deep", "", nil))}
	for range bundle.MaxDepth - 1 {
		chain = append(chain, r.index(chain[len(chain)-1]))
	}
	deep := r.pushJSON(ocispec.MediaTypeImageIndex, map[string]any{"schemaVersion": 2, "mediaType": ocispec.MediaTypeImageIndex,
		"artifactType": "application/x.bundle", "manifests": chain[len(chain)-1:], "subject": subjectOf(img)})
	liar := r.image("liar", "application/spdx+json", subjectOf(r.image("other", "", nil)))
	// A manifest whose layer claims an index's media type: the walk would
	// ask for the layer as a manifest, which no registry holds.
	layer := r.push(ocispec.MediaTypeImageIndex, []byte(`{"schemaVersion":2,"manifests":[]}`))
	broken := r.pushJSON(ocispec.MediaTypeImageManifest, ocispec.Manifest{
		Versioned: specs.Versioned{SchemaVersion: 2}, MediaType: ocispec.MediaTypeImageManifest, ArtifactType: "application/x.broken",
		Config: r.push(ocispec.MediaTypeEmptyJSON, []byte("{}")), Layers: []ocispec.Descriptor{layer}, Subject: subjectOf(img),
	})
	// A listing naming a layer of the image as a referrer, as a fallback
	// tag can, and the image itself (passed over without a word).
	imgDoc := fetchManifest(t, src, r.name, img)
	layerListed := ocispec.Descriptor{MediaType: ocispec.MediaTypeImageManifest, Digest: imgDoc.Layers[0].Digest, Size: imgDoc.Layers[0].Size}
	o.set(img.Digest, []ocispec.Descriptor{sig, deep, liar, broken, layerListed, img})

	out, logs := createCarrying(t, src, r.name, img, sig)
	held := bundleBlobs(t, out)
	liarDoc := fetchManifest(t, src, r.name, liar)
	for _, d := range append(chain, deep, liar, liarDoc.Config, liarDoc.Layers[0], broken, layer) {
		if held[d.Digest] {
			t.Errorf("the bundle holds %s (%s) of a referrer create did not carry", d.Digest, d.MediaType)
		}
	}
	warnedOnce(t, logs, "referrer not carried: its indexes nest deeper than a bundle's readers take", deep)
	if !strings.Contains(logs, "levels below the referrer") {
		t.Errorf("the warning of %s does not say the nesting counts from the referrer:\n%s", deep.Digest, logs)
	}
	warnedOnce(t, logs, "referrer not carried: it names another subject than the one it is listed for", liar)
	warnedOnce(t, logs, "referrer not carried: the listing names a layer or config of the image, not a manifest", layerListed)
	warnedOnce(t, logs, "referrer not carried: it, or a document under it, is malformed", broken)
	importCarries(t, out, r.name, img, sig)
}

// A chain of referrers, each of the one before, or of manifests each
// under a cosign tag of the one before (a signature of a signature of …),
// goes bundle.MaxDepth levels deep: what lies past that is passed over,
// unread, with a warning naming the first past it, and the image and the
// levels above it are carried and import. create refused the image, so
// anyone who may push to the source could stop the release.
func TestCreatePassesOverReferrerChainsPastTheBound(t *testing.T) {
	for _, byTag := range []bool{false, true} {
		t.Run(map[bool]string{false: "referrers", true: "cosign tags"}[byTag], func(t *testing.T) {
			src := testutil.Registry(t)
			r := rawRepo{t, src, "app/chain"}
			img := r.image("app", "", nil)
			var chain []ocispec.Descriptor
			subject := img
			for i := range bundle.MaxDepth + 2 {
				seed := fmt.Sprintf("signature %d", i)
				var sig ocispec.Descriptor
				if byTag {
					sig = r.image(seed, "", nil)
					r.tag(sig, bundle.CosignTag(subject.Digest, ".sig"))
				} else {
					sig = r.image(seed, "application/vnd.dev.cosign.artifact.sig.v1+json", subjectOf(subject))
				}
				chain, subject = append(chain, sig), sig
			}
			out, logs := createLogged(t, src, r.name, img)
			var got, want []digest.Digest
			for _, ref := range readManifest(t, out).Images[0].Referrers {
				got = append(got, ref.Digest)
			}
			for _, d := range chain[:bundle.MaxDepth] {
				want = append(want, d.Digest)
			}
			if !slices.Equal(got, want) {
				t.Errorf("manifest.json records referrers %v, want the first %d of the chain, %v", got, bundle.MaxDepth, want)
			}
			held := bundleBlobs(t, out)
			for _, d := range chain[bundle.MaxDepth:] {
				if held[d.Digest] {
					t.Errorf("the bundle holds %s, past the bound", d.Digest)
				}
			}
			warnedOnce(t, logs, fmt.Sprintf("referrer not carried: it is %d referrers below the image", bundle.MaxDepth+1), chain[bundle.MaxDepth])
			if last := chain[bundle.MaxDepth+1].Digest.String(); strings.Contains(logs, last) {
				t.Errorf("create named %s, below the one past the bound, which it should not have looked up:\n%s", last, logs)
			}
			priv, pub := testKeys(t, "signer")
			sign(t, out, priv)
			if _, err := mirror.Import(context.Background(), importOpts(t, out, testutil.Registry(t), pub)); err != nil {
				t.Fatalf("import: %v", err)
			}
		})
	}
}

// createCarrying creates a bundle of image name@img from src, logging
// warnings, and checks that it records the signature sig of img as the
// one referrer carried. It returns the bundle and the warnings.
func createCarrying(t *testing.T, src, name string, img, sig ocispec.Descriptor) (string, string) {
	t.Helper()
	out, logs := createLogged(t, src, name, img)
	if refs := readManifest(t, out).Images[0].Referrers; len(refs) != 1 || refs[0].Digest != sig.Digest || refs[0].Subject != img.Digest {
		t.Errorf("manifest.json records referrers %+v, want the signature %s of %s only", refs, sig.Digest, img.Digest)
	}
	return out, logs
}

// createLogged creates a bundle of image name@img from src, logging
// warnings, and returns the bundle and the warnings.
func createLogged(t *testing.T, src, name string, img ocispec.Descriptor) (string, string) {
	t.Helper()
	var logs bytes.Buffer
	out := filepath.Join(t.TempDir(), "bundle")
	opts := createOpts(t, releaseOf(t, src, map[string]digest.Digest{name: img.Digest}), "", out)
	opts.Version = "2025.10.0"
	opts.Logger = slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelWarn}))
	if _, err := mirror.Create(context.Background(), opts); err != nil {
		t.Fatalf("create: %v", err)
	}
	return out, logs.String()
}

// warnedOnce checks that logs hold warning once for each of refused,
// naming it, and once only.
func warnedOnce(t *testing.T, logs, warning string, refused ...ocispec.Descriptor) {
	t.Helper()
	if got := strings.Count(logs, warning); got != len(refused) {
		t.Errorf("create warned %d times %q, want %d:\n%s", got, warning, len(refused), logs)
	}
	for _, d := range refused {
		if !strings.Contains(logs, "referrer="+d.Digest.String()) {
			t.Errorf("no warning names the referrer %s:\n%s", d.Digest, logs)
		}
		for _, line := range strings.Split(logs, "\n") {
			if strings.Contains(line, "referrer="+d.Digest.String()) && strings.Count(line, d.Digest.String()) != 1 {
				t.Errorf("the warning of %s names it more than once:\n%s", d.Digest, line)
			}
		}
	}
}

// importCarries signs the bundle in dir and imports it into a registry,
// where the referrers of img in name are then sig alone.
func importCarries(t *testing.T, dir, name string, img, sig ocispec.Descriptor) {
	t.Helper()
	ctx := context.Background()
	priv, pub := testKeys(t, "signer")
	sign(t, dir, priv)
	dst := testutil.Registry(t)
	if _, err := mirror.Import(ctx, importOpts(t, dir, dst, pub)); err != nil {
		t.Fatalf("import: %v", err)
	}
	repo, err := testutil.Client(t).Repository(dst + "/" + name)
	if err != nil {
		t.Fatal(err)
	}
	got, err := registry.Referrers(ctx, repo, *subjectOf(img), "")
	if err != nil || len(got) != 1 || got[0].Digest != sig.Digest {
		t.Errorf("%s: referrers of %s are %v (%v), want the signature %s only", dst, img.Digest, got, err, sig.Digest)
	}
}

// bundleBlobs is the set of digests under a bundle directory's
// blobs/sha256.
func bundleBlobs(t *testing.T, dir string) map[digest.Digest]bool {
	t.Helper()
	held := map[digest.Digest]bool{}
	err := filepath.WalkDir(filepath.Join(dir, "blobs", "sha256"), func(path string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			held[digest.NewDigestFromEncoded(digest.SHA256, d.Name())] = true
		}
		return err
	})
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		t.Fatal(err)
	}
	if len(held) == 0 {
		t.Fatalf("%s holds no blobs", dir)
	}
	return held
}
