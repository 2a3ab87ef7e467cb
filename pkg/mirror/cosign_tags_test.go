package mirror_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/stellaops/mirror/internal/testutil"
	"github.com/stellaops/mirror/pkg/bundle"
	"github.com/stellaops/mirror/pkg/mirror"
	"github.com/stellaops/mirror/pkg/serve"
)

// cosignRunner runs the real cosign binary with COSIGN_PASSWORD set and
// its experimental features on (OCI 1.1 referrers).
func cosignRunner(t *testing.T) func(args ...string) error {
	bin := testutil.CosignBinary(t)
	return func(args ...string) error {
		cmd := exec.Command(bin, args...)
		cmd.Env = append(os.Environ(), "COSIGN_PASSWORD="+testPassword, "COSIGN_YES=true", "COSIGN_EXPERIMENTAL=1")
		cmd.Dir = t.TempDir()
		if out, err := cmd.CombinedOutput(); err != nil {
			return fmt.Errorf("cosign %s: %v\n%s", strings.Join(args, " "), err, out)
		}
		return nil
	}
}

// cosign's default scheme keeps signatures and attestations under tags
// (sha256-<hex>.sig, .att), not as referrers: what cosign 2 writes unless
// told otherwise, and what most signed images in the wild carry. create
// carries them, import writes the tags beside the image, and cosign
// verify and verify-attestation pass on the far side, on a registry with
// the referrers API and on distribution, and against serve. A tag the far
// side already points elsewhere (its own signatures, which cosign adds to
// the manifest the tag names) is left as it is and reported.
func TestCosignTagSchemeCrossesTheGap(t *testing.T) {
	t.Parallel()
	run := cosignRunner(t)
	ctx := context.Background()
	src := testutil.Registry(t)
	r := rawRepo{t, src, "app/tagged"}
	idx, amd, arm := r.twoPlatforms()
	priv, pub := testKeys(t, "vendor")
	ref := src + "/" + r.name + "@" + idx.Digest.String()
	insecure := []string{"--allow-insecure-registry", "--allow-http-registry"}
	if err := run(append([]string{"sign", "--key", priv, "--tlog-upload=false", "--recursive", ref}, insecure...)...); err != nil {
		t.Fatal(err)
	}
	predicate := filepath.Join(t.TempDir(), "predicate.json")
	writeFile(t, predicate, `{"scanner":"trivy","findings":0}`)
	if err := run(append([]string{"attest", "--key", priv, "--tlog-upload=false", "--type", "custom", "--predicate", predicate, ref}, insecure...)...); err != nil {
		t.Fatal(err)
	}

	dir := filepath.Join(t.TempDir(), "bundle")
	opts := createOpts(t, releaseOf(t, src, map[string]digest.Digest{r.name: idx.Digest}), "", dir)
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
	slices.Sort(tags)
	want := []string{
		bundle.CosignTag(amd.Digest, ".sig"), bundle.CosignTag(arm.Digest, ".sig"),
		bundle.CosignTag(idx.Digest, ".att"), bundle.CosignTag(idx.Digest, ".sig"),
	}
	slices.Sort(want)
	if !slices.Equal(tags, want) {
		t.Fatalf("manifest.json carries cosign tags %v, want %v", tags, want)
	}
	sign(t, dir, priv)

	verify := func(t *testing.T, host string) {
		t.Helper()
		for _, d := range []digest.Digest{idx.Digest, amd.Digest, arm.Digest} {
			if err := run(append([]string{"verify", "--key", pub, "--insecure-ignore-tlog", host + "/" + r.name + "@" + d.String()}, insecure...)...); err != nil {
				t.Errorf("%s: %v", d, err)
			}
		}
		if err := run(append([]string{"verify-attestation", "--key", pub, "--insecure-ignore-tlog", "--type", "custom", host + "/" + r.name + "@" + idx.Digest.String()}, insecure...)...); err != nil {
			t.Error(err)
		}
	}
	for name, target := range map[string]func(testing.TB) string{"referrers API": testutil.Registry, "distribution": testutil.Distribution} {
		t.Run(name, func(t *testing.T) {
			dst := target(t)
			res, err := mirror.Import(ctx, importOpts(t, dir, dst, pub))
			if err != nil {
				t.Fatal(err)
			}
			if len(res.KeptTags) != 0 {
				t.Errorf("kept tags %v on a fresh registry", res.KeptTags)
			}
			verify(t, dst)
		})
	}
	t.Run("serve", func(t *testing.T) {
		b, err := mirror.OpenServed(ctx, mirror.ServeOptions{Path: dir, Trust: trustKeys(pub), Now: testNow})
		if err != nil {
			t.Fatal(err)
		}
		defer b.Close()
		verify(t, serveContent(t, b))
	})

	t.Run("far side's own signature tag is kept", func(t *testing.T) {
		dst := testutil.Distribution(t)
		sigTag := bundle.CosignTag(idx.Digest, ".sig")
		own := rawRepo{t, dst, r.name}.image("far side's own signatures", "", nil)
		tagManifest(t, dst, r.name, own, sigTag)
		var logs bytes.Buffer
		opts := importOpts(t, dir, dst, pub)
		opts.Logger = slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelWarn}))
		res, err := mirror.Import(ctx, opts)
		if err != nil {
			t.Fatal(err)
		}
		if want := []string{dst + "/" + r.name + ":" + sigTag}; !slices.Equal(res.KeptTags, want) {
			t.Errorf("kept tags %v, want %v", res.KeptTags, want)
		}
		// The warning gives the command that takes the bundle's instead.
		var bundleSig digest.Digest
		for _, ref := range readManifest(t, dir).Images[0].Referrers {
			if ref.Tag == sigTag {
				bundleSig = ref.Digest
			}
		}
		if take := "oras tag " + dst + "/" + r.name + "@" + bundleSig.String() + " " + sigTag; !strings.Contains(logs.String(), take) {
			t.Errorf("import warned %q, want the command %q", logs.String(), take)
		}
		repo, _ := testutil.Client(t).Repository(dst + "/" + r.name)
		got, err := repo.Resolve(ctx, sigTag)
		if err != nil || got.Digest != own.Digest {
			t.Fatalf("%s names %v (%v), want the far side's %s", sigTag, got.Digest, err, own.Digest)
		}
		// The bundle's signature manifest is there by digest, and the
		// other tags were written.
		for _, ref := range readManifest(t, dir).Images[0].Referrers {
			if ok, err := repo.Exists(ctx, ocispec.Descriptor{MediaType: ref.MediaType, Digest: ref.Digest, Size: ref.Size}); err != nil || !ok {
				t.Errorf("referrer %s (%s) not in the target: %v", ref.Digest, ref.Tag, err)
			}
			if ref.Tag == "" || ref.Tag == sigTag {
				continue
			}
			if got, err := repo.Resolve(ctx, ref.Tag); err != nil || got.Digest != ref.Digest {
				t.Errorf("%s names %v (%v), want %s", ref.Tag, got.Digest, err, ref.Digest)
			}
		}
	})
}

// tagManifest points tag in host/name at the manifest d, which is there.
func tagManifest(t *testing.T, host, name string, d ocispec.Descriptor, tag string) {
	t.Helper()
	repo, err := testutil.Client(t).Repository(host + "/" + name)
	if err != nil {
		t.Fatal(err)
	}
	if err := repo.PushReference(context.Background(), d, bytes.NewReader(manifestBytes(t, host, name, d)), tag); err != nil {
		t.Fatal(err)
	}
}

// serveContent serves an opened bundle on a loopback httptest server and
// returns its host:port.
func serveContent(t *testing.T, b *mirror.ServedBundle) string {
	t.Helper()
	srv := httptest.NewServer(serve.NewHandler(b.Content, serve.Options{}))
	t.Cleanup(srv.Close)
	return strings.TrimPrefix(srv.URL, "http://")
}

// Upstream signs again (cosign adds the new signature to the manifest the
// tag names, so the tag names a new manifest): the next bundle carries the
// new manifest, and its import moves the tag that an earlier import wrote,
// or cosign verify on the far side would go on reading the old signatures
// for ever (a rotated key never verified). A tag that names a manifest no
// bundle carried (the far side's own) is still left as it is.
func TestCosignTagOfEarlierBundleMoves(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	src := testutil.Registry(t)
	v := newVendorImage(t, src)
	r, img, pub := v.r, v.img, v.pub
	sigTag, attTag := bundle.CosignTag(img.Digest, ".sig"), bundle.CosignTag(img.Digest, ".att")
	bundleOf := func(generation int64, tagged map[string]ocispec.Descriptor) string {
		return v.bundle(t, generation, tagged)
	}
	sig1, att1 := r.image("signatures, first", "", nil), r.image("attestations, first", "", nil)
	first := bundleOf(1, map[string]ocispec.Descriptor{sigTag: sig1, attTag: att1})
	sig2, att2 := r.image("signatures, second", "", nil), r.image("attestations, second", "", nil)
	second := bundleOf(2, map[string]ocispec.Descriptor{sigTag: sig2, attTag: att2})

	for name, target := range map[string]func(testing.TB) string{"referrers API": testutil.Registry, "distribution": testutil.Distribution} {
		t.Run(name, func(t *testing.T) {
			dst := target(t)
			if _, err := mirror.Import(ctx, importOpts(t, first, dst, pub)); err != nil {
				t.Fatal(err)
			}
			// The far side signs on its own: its .att is no bundle's.
			own := rawRepo{t, dst, r.name}.image("far side's own attestations", "", nil)
			tagManifest(t, dst, r.name, own, attTag)
			res, err := mirror.Import(ctx, importOpts(t, second, dst, pub))
			if err != nil {
				t.Fatal(err)
			}
			if want := []string{dst + "/" + r.name + ":" + attTag}; !slices.Equal(res.KeptTags, want) {
				t.Errorf("kept tags %v, want %v", res.KeptTags, want)
			}
			repo, _ := testutil.Client(t).Repository(dst + "/" + r.name)
			for tag, want := range map[string]digest.Digest{sigTag: sig2.Digest, attTag: own.Digest} {
				if got, err := repo.Resolve(ctx, tag); err != nil || got.Digest != want {
					t.Errorf("%s names %v (%v), want %s", tag, got.Digest, err, want)
				}
			}
		})
	}
	// With the bundle repository the image's own (sync --images to a
	// destination in it, under a tag of the bundle's own), every manifest
	// there is "in the bundle repository", the far side's own too: that
	// says nothing of whose it is, and the tag is kept.
	t.Run("bundle repository is the image's", func(t *testing.T) {
		mid := testutil.Registry(t)
		if _, err := mirror.Push(ctx, mirror.PushOptions{Source: second, Reference: mid + "/stellaops/mirror-bundle:2025.10.2", Trust: trustKeys(pub),
			Now: testNow, Client: testutil.Client(t), Transfer: transferOpts()}); err != nil {
			t.Fatal(err)
		}
		dst := testutil.Registry(t)
		own := rawRepo{t, dst, r.name}.image("far side's own signatures", "", nil)
		tagManifest(t, dst, r.name, own, sigTag)
		res, err := mirror.Sync(ctx, mirror.SyncOptions{Source: mid + "/stellaops/mirror-bundle:2025.10.2", Destination: dst + "/" + r.name + ":bundle-2025.10.2",
			Images: true, Trust: trustKeys(pub), Now: testNow, Client: testutil.Client(t), Transfer: transferOpts()})
		if err != nil {
			t.Fatal(err)
		}
		if want := []string{dst + "/" + r.name + ":" + sigTag}; !slices.Equal(res.KeptTags, want) {
			t.Errorf("kept tags %v, want %v", res.KeptTags, want)
		}
	})
}

// inspect names the cosign tags an image carries, which import writes
// beside it: how an operator tells, before the maintenance window, that
// cosign verify will work on the far side. A referrer count alone says
// nothing of it.
func TestInspectNamesCosignTags(t *testing.T) {
	ctx := context.Background()
	src := testutil.Registry(t)
	r := rawRepo{t, src, "app/inspected"}
	idx, amd, arm := r.twoPlatforms()
	srcRepo, err := testutil.Client(t).Repository(src + "/" + r.name)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{bundle.CosignTag(idx.Digest, ".sig"), bundle.CosignTag(arm.Digest, ".sbom")}
	for _, tag := range want {
		if err := srcRepo.Tag(ctx, r.image("for "+tag, "", nil), tag); err != nil {
			t.Fatal(err)
		}
	}
	slices.Sort(want)
	r.image("an ordinary referrer", "application/example", &amd)
	dir := filepath.Join(t.TempDir(), "bundle")
	opts := createOpts(t, releaseOf(t, src, map[string]digest.Digest{r.name: idx.Digest}), "", dir)
	opts.Version = "2025.10.0"
	if _, err := mirror.Create(ctx, opts); err != nil {
		t.Fatal(err)
	}
	res, err := mirror.Inspect(ctx, dir, testNow)
	if err != nil {
		t.Fatal(err)
	}
	data, err := json.Marshal(res.Images[0])
	if err != nil {
		t.Fatal(err)
	}
	var got struct {
		Referrers  int      `json:"referrers"`
		CosignTags []string `json:"cosignTags"`
	}
	if err := json.Unmarshal(data, &got); err != nil {
		t.Fatal(err)
	}
	if got.Referrers != 3 || !slices.Equal(got.CosignTags, want) {
		t.Errorf("inspect: %s; want 3 referrers, cosignTags %v", data, want)
	}
}

// TestCosignTagHeadLies: a cosign tag was left in place on its HEAD's
// word alone. Moved back to the first bundle's signatures (sig1) while a
// front answers its HEAD from a stale cache (naming the second bundle's,
// sig2), a re-import of the second bundle left it serving the older
// signatures, counted in place. Now its content is read: it is not the
// bundle's, it names a manifest of an earlier bundle, and is written.
func TestCosignTagHeadLies(t *testing.T) {
	ctx := context.Background()
	src := testutil.Registry(t)
	v := newVendorImage(t, src)
	r, img, pub := v.r, v.img, v.pub
	sigTag := bundle.CosignTag(img.Digest, ".sig")
	bundleOf := func(generation int64, sig ocispec.Descriptor) string {
		return v.bundle(t, generation, map[string]ocispec.Descriptor{sigTag: sig})
	}
	sig1 := r.image("signatures, first", "", nil)
	first := bundleOf(1, sig1)
	sig2 := r.image("signatures, second", "", nil)
	second := bundleOf(2, sig2)
	var armed atomic.Bool
	dst := testutil.RegistryWrapped(t, func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
			if armed.Load() && req.Method == http.MethodHead && strings.HasSuffix(req.URL.Path, "/"+r.name+"/manifests/"+sigTag) {
				w = &editWriter{ResponseWriter: w, edit: func(h http.Header) { h.Set("Docker-Content-Digest", sig2.Digest.String()) }}
			}
			next.ServeHTTP(w, req)
		})
	})
	for _, dir := range []string{first, second} {
		if _, err := mirror.Import(ctx, importOpts(t, dir, dst, pub)); err != nil {
			t.Fatal(err)
		}
	}
	tagManifest(t, dst, r.name, sig1, sigTag)
	armed.Store(true)
	_, err := mirror.Import(ctx, importOpts(t, second, dst, pub))
	armed.Store(false)
	if err != nil {
		t.Fatalf("re-import: %v", err)
	}
	repo, _ := testutil.Client(t).Repository(dst + "/" + r.name)
	if got, err := repo.Resolve(ctx, sigTag); err != nil || got.Digest != sig2.Digest {
		t.Errorf("%s names %v (%v), want the second bundle's signatures %s (the first's are %s)", sigTag, got.Digest, err, sig2.Digest, sig1.Digest)
	}
}

// vendorImage is an image in a source registry whose vendor signs again
// between releases: each bundle of it is made after the given cosign tags
// are moved to the given manifests, and signed with the vendor's key.
type vendorImage struct {
	r         rawRepo
	img       ocispec.Descriptor
	src       string
	priv, pub string
}

func newVendorImage(t *testing.T, src string) *vendorImage {
	t.Helper()
	r := rawRepo{t, src, "app/resigned"}
	priv, pub := testKeys(t, "vendor")
	return &vendorImage{r: r, img: r.image("app", "", nil), src: src, priv: priv, pub: pub}
}

// bundle tags each of tagged in the source, then creates and signs the
// bundle of release 2025.10.<generation>, and returns its directory.
func (v *vendorImage) bundle(t *testing.T, generation int64, tagged map[string]ocispec.Descriptor) string {
	t.Helper()
	ctx := context.Background()
	srcRepo, err := testutil.Client(t).Repository(v.src + "/" + v.r.name)
	if err != nil {
		t.Fatal(err)
	}
	for tag, d := range tagged {
		if err := srcRepo.Tag(ctx, d, tag); err != nil {
			t.Fatal(err)
		}
	}
	dir := filepath.Join(t.TempDir(), "bundle")
	opts := createOpts(t, releaseOf(t, v.src, map[string]digest.Digest{v.r.name: v.img.Digest}), "", dir)
	opts.Version = fmt.Sprintf("2025.10.%d", generation)
	opts.Generation = generation
	if _, err := mirror.Create(ctx, opts); err != nil {
		t.Fatal(err)
	}
	sign(t, dir, v.priv)
	return dir
}
