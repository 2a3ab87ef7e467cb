package mirror_test

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"net/http"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	"oras.land/oras-go/v2/registry"

	"github.com/stellaops/mirror/internal/testutil"
	"github.com/stellaops/mirror/pkg/bundle"
	"github.com/stellaops/mirror/pkg/errdef"
	"github.com/stellaops/mirror/pkg/mirror"
)

// A source registry listed, as a referrer of an image, a digest that is a
// blob of that image (here its layer), with a manifest media type. The walk
// found the digest already in the graph, fetched nothing, and skipped the
// subject check (it only checks what it holds as a manifest): create
// recorded a "referrer" whose subject it never saw and whose content is a
// layer, and wrote a bundle that sign and verify then refuse as malformed.
// Then create refused the image, so a fallback tag anyone may push could
// stop the release. It now passes over the listing with a warning naming
// the layer, and records no referrer.
func TestReferrerThatIsABlobOfTheImage(t *testing.T) {
	var o referrersOverride
	host := testutil.RegistryWrapped(t, o.wrap)
	r := rawRepo{t, host, "app/image"}
	img := r.image("app", "", nil)
	man := fetchManifest(t, host, r.name, img)
	layer := man.Layers[0]
	o.set(img.Digest, []ocispec.Descriptor{{MediaType: ocispec.MediaTypeImageManifest, ArtifactType: "application/spdx+json", Digest: layer.Digest, Size: layer.Size}})

	out, logs := createLogged(t, host, r.name, img)
	if refs := readManifest(t, out).Images[0].Referrers; len(refs) != 0 {
		t.Errorf("manifest.json records referrers %+v, want none", refs)
	}
	warnedOnce(t, logs, "referrer not carried: the listing names a layer or config of the image, not a manifest", ocispec.Descriptor{Digest: layer.Digest})
	priv, pub := testKeys(t, "signer")
	sign(t, out, priv)
	if _, err := mirror.Verify(context.Background(), mirror.VerifyOptions{Now: testNow, Envelope: filepath.Join(out, "manifest.dsse"), Trust: trustKeys(pub)}); err != nil {
		t.Errorf("verify: %v", err)
	}
}

// A source registry's referrers list says what each referrer is
// (artifactType), and create recorded that claim in manifest.json and the
// root index, the signed statement, without comparing it with the referrer
// manifest it fetched and verified: a registry could present an SBOM as a
// signature (or a signature as anything) in the bundle's own words.
func TestReferrerArtifactTypeFromTheManifest(t *testing.T) {
	var o referrersOverride
	host := testutil.RegistryWrapped(t, o.wrap)
	r := rawRepo{t, host, "app/image"}
	img := r.image("app", "", nil)
	sbom := r.image("sbom", "application/spdx+json", &ocispec.Descriptor{MediaType: img.MediaType, Digest: img.Digest, Size: img.Size})
	o.set(img.Digest, []ocispec.Descriptor{{MediaType: sbom.MediaType, ArtifactType: "application/vnd.dev.cosign.artifact.sig.v1+json", Digest: sbom.Digest, Size: sbom.Size}})

	out := filepath.Join(t.TempDir(), "bundle")
	opts := createOpts(t, releaseOf(t, host, map[string]digest.Digest{r.name: img.Digest}), "", out)
	opts.Version = "2025.10.0"
	_, err := mirror.Create(context.Background(), opts)
	if errors.Is(err, errdef.ErrMalformed) && strings.Contains(err.Error(), sbom.Digest.String()) {
		return // refusing the lying listing is fine too
	}
	if err != nil {
		t.Fatal(err)
	}
	refs := readManifest(t, out).Images[0].Referrers
	if len(refs) != 1 || refs[0].ArtifactType != "application/spdx+json" {
		t.Fatalf("manifest.json records referrers %+v; the referrer manifest %s says artifactType application/spdx+json", refs, sbom.Digest)
	}
}

// A multi-platform image whose platform manifest carries an SBOM (and the
// SBOM a signature), as cosign sign --recursive and per-platform
// attestations leave them: create walked the referrers of the image's
// index only, so the bundle dropped them, while --platform (whose root is
// that manifest) carried them. They must reach the far side, listed under
// their subjects there, with the fallback tag as with the API.
func TestCreateCarriesReferrersOfPlatformManifests(t *testing.T) {
	ctx := context.Background()
	src := testutil.Registry(t)
	r := rawRepo{t, src, "app/multi"}
	amd, arm := r.image("amd64", "", nil), r.image("arm64", "", nil)
	amd.Platform = &ocispec.Platform{OS: "linux", Architecture: "amd64"}
	arm.Platform = &ocispec.Platform{OS: "linux", Architecture: "arm64"}
	idx := r.index(amd, arm)
	sbom := r.image("sbom", "application/spdx+json", &ocispec.Descriptor{MediaType: amd.MediaType, Digest: amd.Digest, Size: amd.Size})
	sig := r.image("sig", "application/vnd.example.signature", &ocispec.Descriptor{MediaType: sbom.MediaType, Digest: sbom.Digest, Size: sbom.Size})
	want := map[digest.Digest]digest.Digest{sbom.Digest: amd.Digest, sig.Digest: sbom.Digest}

	out := filepath.Join(t.TempDir(), "bundle")
	opts := createOpts(t, releaseOf(t, src, map[string]digest.Digest{r.name: idx.Digest}), "", out)
	opts.Version = "2025.10.0"
	if _, err := mirror.Create(ctx, opts); err != nil {
		t.Fatal(err)
	}
	got := map[digest.Digest]digest.Digest{}
	for _, ref := range readManifest(t, out).Images[0].Referrers {
		got[ref.Digest] = ref.Subject
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("manifest.json records referrers (referrer: subject) %v, want %v", got, want)
	}
	priv, pub := testKeys(t, "signer")
	sign(t, out, priv)
	for name, target := range map[string]func(testing.TB) string{"referrers API": testutil.Registry, "fallback tag": testutil.RegistryNoReferrers} {
		t.Run(name, func(t *testing.T) {
			dst := target(t)
			if _, err := mirror.Import(ctx, importOpts(t, out, dst, pub)); err != nil {
				t.Fatal(err)
			}
			repo, err := testutil.Client(t).Repository(dst + "/" + r.name)
			if err != nil {
				t.Fatal(err)
			}
			for ref, subject := range want {
				refs, err := registry.Referrers(ctx, repo, ocispec.Descriptor{MediaType: ocispec.MediaTypeImageManifest, Digest: subject}, "")
				if err != nil || !slices.ContainsFunc(refs, func(d ocispec.Descriptor) bool { return d.Digest == ref }) {
					t.Errorf("%s: referrers of %s are %v (%v), want %s among them", dst, subject, refs, err, ref)
				}
			}
		})
	}
}

// A referrer that is an OCI artifact manifest (the media type image-spec
// 1.1 withdrew, which notation and oras wrote for a while) is listed by the
// source, with the API and under the fallback tag. No bundle can carry it
// (it is no image manifest, and registries such as distribution refuse
// it); create dropped it without a word, so the operator believed the
// signature crossed. create must warn, naming it.
func TestCreateWarnsOfReferrerItCannotCarry(t *testing.T) {
	for name, start := range map[string]func(testing.TB) string{"referrers API": testutil.Registry, "fallback tag": testutil.RegistryNoReferrers} {
		t.Run(name, func(t *testing.T) {
			src := start(t)
			r := rawRepo{t, src, "app/image"}
			img := r.image("app", "", nil)
			sig := r.push("application/vnd.cncf.notary.signature", []byte("signature"))
			art := r.pushJSON("application/vnd.oci.artifact.manifest.v1+json", map[string]any{
				"mediaType": "application/vnd.oci.artifact.manifest.v1+json", "artifactType": "application/vnd.cncf.notary.signature",
				"blobs": []ocispec.Descriptor{sig}, "subject": subjectOf(img),
			})
			var logs bytes.Buffer
			opts := createOpts(t, releaseOf(t, src, map[string]digest.Digest{r.name: img.Digest}), "", filepath.Join(t.TempDir(), "bundle"))
			opts.Version = "2025.10.0"
			opts.Logger = slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelWarn}))
			res, err := mirror.Create(context.Background(), opts)
			if err != nil {
				t.Fatal(err)
			}
			if len(res.Manifest.Images[0].Referrers) != 0 {
				t.Errorf("manifest.json records referrers %+v", res.Manifest.Images[0].Referrers)
			}
			if !strings.Contains(logs.String(), "referrer not carried") || !strings.Contains(logs.String(), art.Digest.String()) {
				t.Errorf("create logged %q; want a warning naming the referrer %s it did not carry", logs.String(), art.Digest)
			}
		})
	}
}

// With --platform, the bundle holds one platform's manifest, not the
// index the release pins: cosign tags of that manifest are carried, those
// of the index are not (they sign content the bundle leaves out) and a
// warning names each. A source that answers a cosign tag's lookup with
// anything but "not found" fails create, naming the tag: what a bundle
// carries must not depend on whether a registry answered.
func TestCreateCosignTagsWithPlatform(t *testing.T) {
	ctx := context.Background()
	var refuse atomic.Bool
	src := testutil.RegistryWrapped(t, func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
			if refuse.Load() && strings.HasSuffix(req.URL.Path, ".att") {
				http.Error(w, `{"errors":[{"code":"DENIED","message":"injected"}]}`, http.StatusForbidden)
				return
			}
			next.ServeHTTP(w, req)
		})
	})
	r := rawRepo{t, src, "app/image"}
	idx, amd, _ := r.twoPlatforms()
	repo, err := testutil.Client(t).Repository(src + "/" + r.name)
	if err != nil {
		t.Fatal(err)
	}
	tagAs := func(seed, tag string) ocispec.Descriptor {
		d := r.image(seed, "", nil)
		if err := repo.Tag(ctx, d, tag); err != nil {
			t.Fatal(err)
		}
		return d
	}
	indexSig := bundle.CosignTag(idx.Digest, ".sig")
	tagAs("index sig", indexSig)
	amdSig := tagAs("amd64 sig", bundle.CosignTag(amd.Digest, ".sig"))
	create := func(logs *bytes.Buffer) (*mirror.CreateResult, error) {
		opts := createOpts(t, releaseOf(t, src, map[string]digest.Digest{r.name: idx.Digest}), "", filepath.Join(t.TempDir(), "bundle"))
		opts.Version = "2025.10.0"
		opts.Platform = "linux/amd64"
		opts.Logger = slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelWarn}))
		return mirror.Create(ctx, opts)
	}
	var logs bytes.Buffer
	res, err := create(&logs)
	if err != nil {
		t.Fatal(err)
	}
	want := []bundle.Referrer{{Digest: amdSig.Digest, MediaType: amdSig.MediaType, Size: amdSig.Size, Subject: amd.Digest, Tag: bundle.CosignTag(amd.Digest, ".sig")}}
	if got := res.Manifest.Images[0].Referrers; !reflect.DeepEqual(got, want) {
		t.Errorf("referrers %+v, want %+v", got, want)
	}
	if !strings.Contains(logs.String(), "cosign tag not carried") || !strings.Contains(logs.String(), "tag="+indexSig) {
		t.Errorf("create logged %q; want a warning naming %s", logs.String(), indexSig)
	}

	refuse.Store(true)
	_, err = create(&bytes.Buffer{})
	if attTag := bundle.CosignTag(amd.Digest, ".att"); err == nil || !strings.Contains(err.Error(), "cosign tag "+attTag) {
		t.Fatalf("err = %v, want a failure naming %s", err, attTag)
	}
}

// A cosign tag can name a manifest create already carries: a referrer
// (attached by subject and tagged too), or, from a confused or hostile
// source, the image itself. The referrer is recorded with its tag too, so
// that import writes the tag and cosign finds it on the far side, where
// the tag was dropped; the image's own manifest under a signature tag is
// no signature, and is left out.
func TestCosignTagNamingACarriedManifest(t *testing.T) {
	ctx := context.Background()
	src := testutil.Registry(t)
	r := rawRepo{t, src, "app/both"}
	img := r.image("app", "", nil)
	ref := r.image("sig by subject and tag", "application/vnd.example.sig", subjectOf(img))
	repo, err := testutil.Client(t).Repository(src + "/" + r.name)
	if err != nil {
		t.Fatal(err)
	}
	sigTag, attTag := bundle.CosignTag(img.Digest, ".sig"), bundle.CosignTag(img.Digest, ".att")
	if err := repo.Tag(ctx, ref, sigTag); err != nil {
		t.Fatal(err)
	}
	if err := repo.Tag(ctx, img, attTag); err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(t.TempDir(), "bundle")
	opts := createOpts(t, releaseOf(t, src, map[string]digest.Digest{r.name: img.Digest}), "", dir)
	opts.Version = "2025.10.0"
	res, err := mirror.Create(ctx, opts)
	if err != nil {
		t.Fatal(err)
	}
	var tags []string
	for _, rf := range res.Manifest.Images[0].Referrers {
		if rf.Tag != "" {
			if rf.Digest != ref.Digest {
				t.Errorf("tag %s recorded for %s, want %s", rf.Tag, rf.Digest, ref.Digest)
			}
			tags = append(tags, rf.Tag)
		}
	}
	if !slices.Equal(tags, []string{sigTag}) {
		t.Fatalf("tags recorded %v, want [%s] (the image itself under %s left out)", tags, sigTag, attTag)
	}
	priv, pub := testKeys(t, "signer")
	sign(t, dir, priv)
	dst := testutil.Distribution(t)
	if _, err := mirror.Import(ctx, importOpts(t, dir, dst, pub)); err != nil {
		t.Fatal(err)
	}
	far, _ := testutil.Client(t).Repository(dst + "/" + r.name)
	if got, err := far.Resolve(ctx, sigTag); err != nil || got.Digest != ref.Digest {
		t.Errorf("%s on the far side names %v (%v), want %s", sigTag, got.Digest, err, ref.Digest)
	}
	if _, err := far.Resolve(ctx, attTag); err == nil {
		t.Errorf("%s written on the far side", attTag)
	}
}
