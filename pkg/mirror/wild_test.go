package mirror_test

import (
	"bytes"
	"context"
	"fmt"
	"net/http/httptest"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/opencontainers/go-digest"
	specs "github.com/opencontainers/image-spec/specs-go"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	"oras.land/oras-go/v2/registry"

	"github.com/stellaops/mirror/internal/testutil"
	"github.com/stellaops/mirror/pkg/bundle"
	"github.com/stellaops/mirror/pkg/mirror"
	"github.com/stellaops/mirror/pkg/serve"
)

// wildRelease is a release of content as found in the wild rather than as
// the sample generator makes it: what each repository must hold on the far
// side, byte for byte, and which referrers must be listed there under
// which subject.
type wildRelease struct {
	roots     map[string]ocispec.Descriptor
	content   map[string][]ocispec.Descriptor // manifests and blobs, by repository
	referrers map[string][]ocispec.Descriptor // referrer manifests, by repository
	subject   map[digest.Digest]ocispec.Descriptor
}

func (w *wildRelease) add(repo string, ds ...ocispec.Descriptor) {
	w.content[repo] = append(w.content[repo], ds...)
}

func (w *wildRelease) refer(repo string, ref, subject ocispec.Descriptor) {
	w.referrers[repo] = append(w.referrers[repo], ref)
	w.subject[ref.Digest] = subject
}

func subjectOf(d ocispec.Descriptor) *ocispec.Descriptor {
	return &ocispec.Descriptor{MediaType: d.MediaType, Digest: d.Digest, Size: d.Size}
}

func withPlatform(d ocispec.Descriptor, os, arch string) ocispec.Descriptor {
	d.Platform = &ocispec.Platform{OS: os, Architecture: arch}
	return d
}

// pushWild pushes into host: a Docker manifest list; BuildKit's layout (an
// index whose attestation manifest is unknown/unknown); zstd, unknown,
// zero-byte and shared layers (the same bytes under two media types); an
// artifact with the empty config, no layers and an index as referrer; an
// SBOM with a signature of its own; an SBOM on one platform's manifest;
// 201 layers, one of them the config; a layer listed three times and a
// Docker list holding an OCI manifest and an index; the same image, with
// its referrers, under a second name.
func pushWild(t *testing.T, host string) *wildRelease {
	t.Helper()
	w := &wildRelease{roots: map[string]ocispec.Descriptor{}, content: map[string][]ocispec.Descriptor{},
		referrers: map[string][]ocispec.Descriptor{}, subject: map[digest.Digest]ocispec.Descriptor{}}
	const dockerManifest, dockerList = bundle.MediaTypeDockerManifest, bundle.MediaTypeDockerManifestList
	const dockerConfig, dockerLayer = "application/vnd.docker.container.image.v1+json", "application/vnd.docker.image.rootfs.diff.tar.gzip"
	config := func(os, arch string) []byte {
		return []byte(`{"architecture":"` + arch + `","os":"` + os + `","rootfs":{"type":"layers","diff_ids":[]}}`)
	}
	docker := func(r rawRepo, cfg ocispec.Descriptor, layers ...ocispec.Descriptor) ocispec.Descriptor {
		return r.pushJSON(dockerManifest, map[string]any{"schemaVersion": 2, "mediaType": dockerManifest, "config": cfg, "layers": layers})
	}
	list := func(r rawRepo, children ...ocispec.Descriptor) ocispec.Descriptor {
		return r.pushJSON(dockerList, map[string]any{"schemaVersion": 2, "mediaType": dockerList, "manifests": children})
	}
	{
		r := rawRepo{t, host, "wild/dockerlist"}
		var children []ocispec.Descriptor
		for _, arch := range []string{"amd64", "arm64"} {
			cfg := r.push(dockerConfig, config("linux", arch))
			layer, shared := r.push(dockerLayer, []byte("layer "+arch)), r.push(dockerLayer, []byte("shared layer"))
			m := docker(r, cfg, layer, shared)
			w.add(r.name, cfg, layer, shared, m)
			children = append(children, withPlatform(m, "linux", arch))
		}
		w.roots[r.name] = list(r, children...)
	}
	{
		r := rawRepo{t, host, "wild/buildkit"}
		img := r.image("buildkit", "", nil)
		statement := r.push("application/vnd.in-toto+json", []byte(`{"_type":"https://in-toto.io/Statement/v0.1"}`))
		statement.Annotations = map[string]string{"in-toto.io/predicate-type": "https://slsa.dev/provenance/v0.2"}
		att := r.pushJSON(ocispec.MediaTypeImageManifest, ocispec.Manifest{
			Versioned: specs.Versioned{SchemaVersion: 2}, MediaType: ocispec.MediaTypeImageManifest,
			Config: r.push(ocispec.MediaTypeImageConfig, config("unknown", "unknown")), Layers: []ocispec.Descriptor{statement},
		})
		w.add(r.name, img, att, statement)
		att = withPlatform(att, "unknown", "unknown")
		att.Annotations = map[string]string{"vnd.docker.reference.type": "attestation-manifest", "vnd.docker.reference.digest": img.Digest.String()}
		w.roots[r.name] = r.index(withPlatform(img, "linux", "amd64"), att)
	}
	{
		r := rawRepo{t, host, "wild/layers"}
		cfg := r.push(ocispec.MediaTypeImageConfig, config("linux", "amd64"))
		layers := []ocispec.Descriptor{
			r.push("application/vnd.oci.image.layer.v1.tar+zstd", []byte("zstd layer")),
			r.push("application/x-custom-thing", []byte("custom")),
			r.push(ocispec.MediaTypeImageLayer, []byte{}),
			r.push(ocispec.MediaTypeImageLayerGzip, []byte("shared layer")),
		}
		img := r.pushJSON(ocispec.MediaTypeImageManifest, ocispec.Manifest{
			Versioned: specs.Versioned{SchemaVersion: 2}, MediaType: ocispec.MediaTypeImageManifest,
			Config: cfg, Layers: layers, Annotations: map[string]string{"org.opencontainers.image.source": "https://example.com/src"},
		})
		w.add(r.name, append(layers, cfg, img)...)
		w.roots[r.name] = img
		empty := r.push(ocispec.MediaTypeEmptyJSON, bundle.EmptyConfigBytes)
		sbom := r.image("sbom", "application/spdx+json", subjectOf(img))
		sig := r.pushJSON(ocispec.MediaTypeImageManifest, ocispec.Manifest{
			Versioned: specs.Versioned{SchemaVersion: 2}, MediaType: ocispec.MediaTypeImageManifest,
			ArtifactType: "application/vnd.dev.cosign.artifact.sig.v1+json", Config: empty,
			Layers:  []ocispec.Descriptor{r.push("application/vnd.dev.sigstore.bundle.v0.3+json", []byte(`{"sig":1}`))},
			Subject: subjectOf(sbom),
		})
		w.refer(r.name, sbom, img)
		w.refer(r.name, sig, sbom)

		// The same image and its referrers under a second name.
		alias := rawRepo{t, host, "wild/alias"}
		for _, d := range append(w.content[r.name], empty, sbom, sig) {
			alias.push(d.MediaType, readRaw(t, host, r.name, d))
		}
		for _, d := range []ocispec.Descriptor{sbom, sig} {
			for _, c := range fetchManifest(t, host, r.name, d).Layers {
				alias.push(c.MediaType, readRaw(t, host, r.name, c))
			}
		}
		w.add(alias.name, w.content[r.name]...)
		w.roots[alias.name] = img
		w.refer(alias.name, sbom, img)
		w.refer(alias.name, sig, sbom)
	}
	{
		r := rawRepo{t, host, "wild/artifact"}
		empty := r.push(ocispec.MediaTypeEmptyJSON, bundle.EmptyConfigBytes)
		art := r.pushJSON(ocispec.MediaTypeImageManifest, ocispec.Manifest{
			Versioned: specs.Versioned{SchemaVersion: 2}, MediaType: ocispec.MediaTypeImageManifest,
			ArtifactType: "application/vnd.example.thing", Config: empty, Layers: []ocispec.Descriptor{},
			Annotations: map[string]string{"org.example": "kept"},
		})
		part := r.image("part", "application/vnd.example.part", nil)
		ref := r.pushJSON(ocispec.MediaTypeImageIndex, ocispec.Index{
			Versioned: specs.Versioned{SchemaVersion: 2}, MediaType: ocispec.MediaTypeImageIndex, ArtifactType: "application/vnd.example.index-referrer",
			Manifests: []ocispec.Descriptor{part}, Subject: subjectOf(art),
		})
		w.add(r.name, empty, art, part)
		w.roots[r.name] = art
		w.refer(r.name, ref, art)
	}
	{
		r := rawRepo{t, host, "wild/multi"}
		amd, arm := r.image("amd64", "", nil), r.image("arm64", "", nil)
		w.add(r.name, amd, arm)
		w.roots[r.name] = r.index(withPlatform(amd, "linux", "amd64"), withPlatform(arm, "linux", "arm64"))
		r.push(ocispec.MediaTypeEmptyJSON, bundle.EmptyConfigBytes)
		w.refer(r.name, r.image("sbom-amd64", "application/spdx+json", subjectOf(amd)), amd)
	}
	{
		r := rawRepo{t, host, "wild/many"}
		cfg := r.push(ocispec.MediaTypeImageConfig, config("linux", "amd64"))
		layers := []ocispec.Descriptor{{MediaType: ocispec.MediaTypeImageLayer, Digest: cfg.Digest, Size: cfg.Size}}
		for i := range 200 {
			layers = append(layers, r.push(ocispec.MediaTypeImageLayerGzip, []byte(fmt.Sprintf("layer %d", i))))
		}
		img := r.pushJSON(ocispec.MediaTypeImageManifest, ocispec.Manifest{
			Versioned: specs.Versioned{SchemaVersion: 2}, MediaType: ocispec.MediaTypeImageManifest, Config: cfg, Layers: layers,
		})
		w.add(r.name, append(layers, img)...)
		w.roots[r.name] = img
	}
	{
		r := rawRepo{t, host, "wild/mixed"}
		cfg := r.push(dockerConfig, config("linux", "amd64"))
		layer := r.push(dockerLayer, []byte("thrice"))
		m := docker(r, cfg, layer, layer, layer)
		oci := r.image("oci", "", nil)
		inner := r.index(oci)
		w.add(r.name, cfg, layer, m, oci, inner)
		w.roots[r.name] = list(r, withPlatform(m, "linux", "amd64"), withPlatform(oci, "linux", "arm64"), inner)
	}
	for repo, d := range w.roots {
		w.add(repo, d)
	}
	return w
}

// readRaw reads a manifest or blob of a test registry.
func readRaw(t *testing.T, host, repo string, d ocispec.Descriptor) []byte {
	t.Helper()
	r, err := testutil.Client(t).Repository(host + "/" + repo)
	if err != nil {
		t.Fatal(err)
	}
	data, err := readContent(context.Background(), r, d.Digest, d.Size)
	if err != nil {
		t.Fatalf("%s/%s %s: %v", host, repo, d.Digest, err)
	}
	return data
}

func (w *wildRelease) releaseFile(t *testing.T, host string) string {
	refs := map[string]digest.Digest{}
	for repo, d := range w.roots {
		refs[repo] = d.Digest
	}
	return releaseOf(t, host, refs)
}

// assertAt checks that dst holds, in each repository, every manifest and
// blob byte for byte as src does, each image under the release version with
// its media type, and every referrer listed under its subject.
func (w *wildRelease) assertAt(t *testing.T, src, dst, version string) {
	t.Helper()
	ctx := context.Background()
	for repo := range w.roots {
		r, err := testutil.Client(t).Repository(dst + "/" + repo)
		if err != nil {
			t.Fatal(err)
		}
		for _, d := range append(slices.Clone(w.content[repo]), w.referrers[repo]...) {
			got, err := readContent(ctx, r, d.Digest, d.Size)
			if err != nil || !bytes.Equal(got, readRaw(t, src, repo, d)) {
				t.Errorf("%s/%s: %s (%s) differs (%v)", dst, repo, d.Digest, d.MediaType, err)
			}
		}
		root := w.roots[repo]
		if got, err := r.Resolve(ctx, version); err != nil || got.Digest != root.Digest || got.MediaType != root.MediaType {
			t.Errorf("%s/%s:%s resolves to %s %s (%v), want %s %s", dst, repo, version, got.MediaType, got.Digest, err, root.MediaType, root.Digest)
		}
		for _, ref := range w.referrers[repo] {
			subject := w.subject[ref.Digest]
			refs, err := registry.Referrers(ctx, r, subject, "")
			if err != nil || !slices.ContainsFunc(refs, func(d ocispec.Descriptor) bool { return d.Digest == ref.Digest }) {
				t.Errorf("%s/%s: referrers of %s are %v (%v), want %s among them", dst, repo, subject.Digest, refs, err, ref.Digest)
			}
		}
	}
}

// Content found in the wild (see pushWild) crosses every path byte for
// byte under the same digests, images under their media types and
// referrers discoverable: a directory into a registry with the referrers
// API and into one whose fallback tags already list a referrer of its own
// (kept), an archive create wrote and signed into distribution, split
// .tar.zst volumes, and served to pulls.
func TestWildContentRoundTrip(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	src := testutil.Registry(t)
	w := pushWild(t, src)
	dir := filepath.Join(t.TempDir(), "bundle")
	opts := createOpts(t, w.releaseFile(t, src), "", dir)
	opts.Version = "2025.10.0"
	res, err := mirror.Create(ctx, opts)
	if err != nil {
		t.Fatal(err)
	}
	platforms := map[string][]string{}
	for _, img := range res.Manifest.Images {
		platforms[img.Repository] = img.Platforms
		if want := w.roots[img.Repository]; img.Digest != want.Digest || img.MediaType != want.MediaType {
			t.Errorf("manifest.json: %s is %s %s, want %s %s", img.Repository, img.MediaType, img.Digest, want.MediaType, want.Digest)
		}
		if len(img.Referrers) != len(w.referrers[img.Repository]) {
			t.Errorf("manifest.json: %s has %d referrers, want %d", img.Repository, len(img.Referrers), len(w.referrers[img.Repository]))
		}
	}
	if want := []string{"linux/amd64"}; !reflect.DeepEqual(platforms["wild/buildkit"], want) {
		t.Errorf("manifest.json: wild/buildkit platforms %v, want %v (the attestation manifest is no platform)", platforms["wild/buildkit"], want)
	}
	priv, pub := testKeys(t, "signer")
	sign(t, dir, priv)

	t.Run("directory into a referrers-API registry", func(t *testing.T) {
		dst := testutil.Registry(t)
		if _, err := mirror.Import(ctx, importOpts(t, dir, dst, pub)); err != nil {
			t.Fatal(err)
		}
		w.assertAt(t, src, dst, "2025.10.0")
	})
	t.Run("directory into fallback tags that list a referrer already", func(t *testing.T) {
		dst := testutil.RegistryNoReferrers(t)
		r := rawRepo{t, dst, "wild/layers"}
		img := w.roots[r.name]
		r.push(ocispec.MediaTypeEmptyJSON, bundle.EmptyConfigBytes)
		// Pushed by an oras client, with a subject: it wrote the fallback tag.
		local := r.image("local", "application/vnd.example.local", subjectOf(img))
		if _, err := mirror.Import(ctx, importOpts(t, dir, dst, pub)); err != nil {
			t.Fatal(err)
		}
		w.assertAt(t, src, dst, "2025.10.0")
		repo, err := testutil.Client(t).Repository(dst + "/" + r.name)
		if err != nil {
			t.Fatal(err)
		}
		refs, err := registry.Referrers(ctx, repo, img, "")
		if err != nil || !slices.ContainsFunc(refs, func(d ocispec.Descriptor) bool { return d.Digest == local.Digest }) {
			t.Errorf("referrers of %s are %v (%v): the import dropped %s, listed before it", img.Digest, refs, err, local.Digest)
		}
	})
	t.Run("signed archive from create into distribution", func(t *testing.T) {
		o := createOpts(t, w.releaseFile(t, src), "", filepath.Join(t.TempDir(), "bundle.tar"))
		o.Version, o.Key, o.Password = "2025.10.0", priv, testPass
		if _, err := mirror.Create(ctx, o); err != nil {
			t.Fatal(err)
		}
		dst := testutil.Distribution(t)
		if _, err := mirror.Import(ctx, importOpts(t, o.Output, dst, pub)); err != nil {
			t.Fatal(err)
		}
		w.assertAt(t, src, dst, "2025.10.0")
	})
	t.Run("split .tar.zst volumes, imported and served", func(t *testing.T) {
		out := filepath.Join(t.TempDir(), "bundle.tar.zst")
		packed, err := mirror.Pack(ctx, mirror.PackOptions{Dir: dir, Output: out, Split: 16 << 10})
		if err != nil || len(packed.Volumes) < 2 {
			t.Fatalf("pack --split: %v %+v", err, packed)
		}
		dst := testutil.RegistryNoReferrers(t)
		if _, err := mirror.Import(ctx, importOpts(t, out+".volumes.json", dst, pub)); err != nil {
			t.Fatal(err)
		}
		w.assertAt(t, src, dst, "2025.10.0")

		b, err := mirror.OpenServed(ctx, mirror.ServeOptions{Path: out + ".volumes.json", Trust: trustKeys(pub), Now: fixedTime.Add(time.Hour)})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { b.Close() })
		srv := httptest.NewServer(serve.NewHandler(b.Content, serve.Options{}))
		t.Cleanup(srv.Close)
		w.assertAt(t, src, strings.TrimPrefix(srv.URL, "http://"), "2025.10.0")
	})
}
