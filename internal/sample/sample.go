// Package sample generates a StellaOps-shaped release deterministically and
// pushes it into any registry: images with shared base layers, a
// multi-platform image, an SBOM referrer, a release file and advisory feeds.
// The same Spec always gives the same bytes and digests. Tests, the demo and
// the benchmarks use it; nothing large is committed.
package sample

import (
	"archive/tar"
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"

	"github.com/klauspost/compress/gzip"
	"github.com/opencontainers/go-digest"
	specs "github.com/opencontainers/image-spec/specs-go"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	"oras.land/oras-go/v2/content"
)

// Spec sizes a sample release.
type Spec struct {
	// Version and Channel of the release; defaults 2025.10.0 and stable.
	Version, Channel string
	// Registry is the host[:port] the release file names.
	Registry string
	// BaseLayerSize is the size of the base layer every image shares;
	// LayerSize that of each image's own layer. Defaults 256 KiB and 64 KiB.
	BaseLayerSize, LayerSize int64
	// Layers splits each image's own layer into this many layers of
	// LayerSize/Layers bytes (many small blobs, as real images have);
	// 0 or 1 keeps one.
	Layers int
	// Seed varies the content; the same seed gives the same bytes.
	Seed uint64
	// Variant, when non-zero, changes the content of the first two
	// components (a new release of them) and nothing else.
	Variant uint64
	// Images, when larger than len(Components), adds components up to that
	// many images, each for linux/amd64 and linux/arm64 (an index) with an
	// SBOM referrer, in its own repository: the release of the scale
	// benchmarks. 0 keeps Components alone.
	Images int
	// Advisories, when non-zero, adds that many small advisory files beside
	// the two feeds WriteFiles writes, spread over subdirectories.
	Advisories int
}

func (s Spec) withDefaults() Spec {
	if s.Version == "" {
		s.Version = "2025.10.0"
	}
	if s.Channel == "" {
		s.Channel = "stable"
	}
	if s.BaseLayerSize == 0 {
		s.BaseLayerSize = 256 << 10
	}
	if s.LayerSize == 0 {
		s.LayerSize = 64 << 10
	}
	return s
}

// Components are the release's images: name, repository, platforms.
var Components = []struct {
	Name, Repository string
	Platforms        []string
	Infrastructure   bool
}{
	{"authority", "stellaops/authority", []string{"linux/amd64"}, false},
	{"concelier", "stellaops/concelier", []string{"linux/amd64"}, false},
	{"scanner-web", "stellaops/scanner-web", []string{"linux/amd64", "linux/arm64"}, false},
	{"scanner-worker", "stellaops/scanner-worker", []string{"linux/amd64"}, false},
	{"valkey", "stellaops/infra/valkey", []string{"linux/amd64", "linux/arm64"}, true},
}

type component struct {
	Name, Repository string
	Platforms        []string
	Infrastructure   bool
	SBOM             bool
}

// components are Components, then the extra images of s.Images.
func (s Spec) components() []component {
	var out []component
	for _, c := range Components {
		out = append(out, component{c.Name, c.Repository, c.Platforms, c.Infrastructure, c.Name == "authority"})
	}
	for i := len(out); i < s.Images; i++ {
		name := fmt.Sprintf("extra-%05d", i)
		out = append(out, component{name, "stellaops/extra/" + name, []string{"linux/amd64", "linux/arm64"}, false, true})
	}
	return out
}

// Pusher is what an image is pushed to: a repository of a registry.
type Pusher interface {
	content.Pusher
	Tag(ctx context.Context, desc ocispec.Descriptor, reference string) error
}

// Image is one pushed image.
type Image struct {
	Name, Repository string
	Descriptor       ocispec.Descriptor
	Infrastructure   bool
	// Referrer is the SBOM referrer attached to the image, if any.
	Referrer *ocispec.Descriptor
	// Blobs are every blob of the image (manifests included), by digest.
	Blobs map[digest.Digest]int64
	// Manifests marks which of Blobs are manifests or indexes.
	Manifests map[digest.Digest]bool
}

// Release is a pushed sample release.
type Release struct {
	Spec   Spec
	Images []Image
}

// Push generates the release and pushes every image into the repository
// repo(name) returns, tagging each with the release version.
func Push(ctx context.Context, spec Spec, repo func(repository string) (Pusher, error)) (*Release, error) {
	spec = spec.withDefaults()
	rel := &Release{Spec: spec}
	base := blob(spec.Seed, "base", spec.BaseLayerSize)
	for i, c := range spec.components() {
		dst, err := repo(c.Repository)
		if err != nil {
			return nil, err
		}
		img := Image{Name: c.Name, Repository: c.Repository, Infrastructure: c.Infrastructure, Blobs: map[digest.Digest]int64{}, Manifests: map[digest.Digest]bool{}}
		salt := uint64(0)
		if i < 2 {
			salt = spec.Variant
		}
		var manifests []ocispec.Descriptor
		for _, p := range c.Platforms {
			goos, arch, _ := strings.Cut(p, "/")
			layers := append([]layer{base}, ownLayers(spec.Seed^salt, c.Name+"/"+p, spec.LayerSize, spec.Layers)...)
			desc, err := pushImage(ctx, dst, &img, goos, arch, layers...)
			if err != nil {
				return nil, fmt.Errorf("push %s: %w", c.Repository, err)
			}
			manifests = append(manifests, desc)
		}
		img.Descriptor = manifests[0]
		if len(manifests) > 1 {
			idx := ocispec.Index{Versioned: specs.Versioned{SchemaVersion: 2}, MediaType: ocispec.MediaTypeImageIndex, Manifests: manifests}
			if img.Descriptor, err = pushJSON(ctx, dst, &img, ocispec.MediaTypeImageIndex, idx); err != nil {
				return nil, err
			}
		}
		if err := dst.Tag(ctx, img.Descriptor, spec.Version); err != nil {
			return nil, fmt.Errorf("tag %s: %w", c.Repository, err)
		}
		if c.SBOM {
			ref, err := pushSBOM(ctx, dst, &img, spec)
			if err != nil {
				return nil, err
			}
			img.Referrer = &ref
		}
		rel.Images = append(rel.Images, img)
	}
	return rel, nil
}

func pushImage(ctx context.Context, dst Pusher, img *Image, goos, arch string, layers ...layer) (ocispec.Descriptor, error) {
	var descs []ocispec.Descriptor
	var diffIDs []digest.Digest
	for _, l := range layers {
		d := ocispec.Descriptor{MediaType: ocispec.MediaTypeImageLayerGzip, Digest: digest.FromBytes(l.gz), Size: int64(len(l.gz))}
		if err := pushBytes(ctx, dst, img, d, l.gz); err != nil {
			return ocispec.Descriptor{}, err
		}
		descs = append(descs, d)
		diffIDs = append(diffIDs, l.diffID)
	}
	cfg := ocispec.Image{
		Platform: ocispec.Platform{OS: goos, Architecture: arch},
		RootFS:   ocispec.RootFS{Type: "layers", DiffIDs: diffIDs},
		Config:   ocispec.ImageConfig{Labels: map[string]string{"org.opencontainers.image.title": img.Name}},
	}
	cfgDesc, err := pushJSON(ctx, dst, img, ocispec.MediaTypeImageConfig, cfg)
	if err != nil {
		return ocispec.Descriptor{}, err
	}
	man := ocispec.Manifest{Versioned: specs.Versioned{SchemaVersion: 2}, MediaType: ocispec.MediaTypeImageManifest, Config: cfgDesc, Layers: descs}
	desc, err := pushJSON(ctx, dst, img, ocispec.MediaTypeImageManifest, man)
	desc.Platform = &ocispec.Platform{OS: goos, Architecture: arch}
	return desc, err
}

// pushSBOM attaches an SPDX-like SBOM artifact to the image as a referrer.
func pushSBOM(ctx context.Context, dst Pusher, img *Image, spec Spec) (ocispec.Descriptor, error) {
	sbom, _ := json.Marshal(map[string]any{"spdxVersion": "SPDX-2.3", "name": img.Name, "version": spec.Version})
	layer := ocispec.Descriptor{MediaType: "application/spdx+json", Digest: digest.FromBytes(sbom), Size: int64(len(sbom))}
	if err := pushBytes(ctx, dst, img, layer, sbom); err != nil {
		return ocispec.Descriptor{}, err
	}
	empty := ocispec.DescriptorEmptyJSON
	empty.Data = nil
	if err := pushBytes(ctx, dst, img, empty, []byte("{}")); err != nil {
		return ocispec.Descriptor{}, err
	}
	subject := ocispec.Descriptor{MediaType: img.Descriptor.MediaType, Digest: img.Descriptor.Digest, Size: img.Descriptor.Size}
	man := ocispec.Manifest{
		Versioned: specs.Versioned{SchemaVersion: 2}, MediaType: ocispec.MediaTypeImageManifest,
		ArtifactType: "application/spdx+json", Config: empty, Layers: []ocispec.Descriptor{layer}, Subject: &subject,
		Annotations: map[string]string{ocispec.AnnotationCreated: "2025-10-01T00:00:00Z"},
	}
	desc, err := pushJSON(ctx, dst, img, ocispec.MediaTypeImageManifest, man)
	desc.ArtifactType = "application/spdx+json"
	return desc, err
}

func pushJSON(ctx context.Context, dst Pusher, img *Image, mediaType string, v any) (ocispec.Descriptor, error) {
	data, err := json.Marshal(v)
	if err != nil {
		return ocispec.Descriptor{}, err
	}
	d := ocispec.Descriptor{MediaType: mediaType, Digest: digest.FromBytes(data), Size: int64(len(data))}
	if mediaType == ocispec.MediaTypeImageManifest || mediaType == ocispec.MediaTypeImageIndex {
		img.Manifests[d.Digest] = true
	}
	return d, pushBytes(ctx, dst, img, d, data)
}

func pushBytes(ctx context.Context, dst Pusher, img *Image, d ocispec.Descriptor, data []byte) error {
	img.Blobs[d.Digest] = d.Size
	if e, ok := dst.(content.ReadOnlyStorage); ok {
		if ok, err := e.Exists(ctx, d); err == nil && ok {
			return nil
		}
	}
	return dst.Push(ctx, d, bytes.NewReader(data))
}

// layer is an image layer: a gzip'd tar holding one file of n
// deterministic, incompressible bytes for (seed, name), and the digest of
// the tar (its diff_id).
type layer struct {
	gz     []byte
	diffID digest.Digest
}

// ownLayers is an image's own content as n layers splitting size bytes
// (one layer, named name, when n < 2).
func ownLayers(seed uint64, name string, size int64, n int) []layer {
	if n < 2 {
		return []layer{blob(seed, name, size)}
	}
	out := make([]layer, n)
	for i := range out {
		out[i] = blob(seed, fmt.Sprintf("%s/%d", name, i), size/int64(n))
	}
	return out
}

func blob(seed uint64, name string, n int64) layer {
	var key [32]byte
	binary.LittleEndian.PutUint64(key[:], seed)
	copy(key[8:], digest.FromString(name).Encoded())
	r := rand.NewChaCha8(key)
	var plain, gz bytes.Buffer
	tw := tar.NewWriter(&plain)
	_ = tw.WriteHeader(&tar.Header{Name: "data", Mode: 0o644, Size: n, Typeflag: tar.TypeReg, Format: tar.FormatUSTAR})
	_, _ = io.CopyN(tw, r, n)
	_ = tw.Close()
	// Random bytes do not compress: Huffman-only is as small as any level
	// and much faster.
	zw, _ := gzip.NewWriterLevel(&gz, gzip.HuffmanOnly)
	_, _ = zw.Write(plain.Bytes())
	_ = zw.Close()
	return layer{gz: gz.Bytes(), diffID: digest.FromBytes(plain.Bytes())}
}

// ReleaseYAML renders the release in the deploy/releases/*.yaml shape,
// every image pinned by digest.
func (r *Release) ReleaseYAML() []byte {
	var b bytes.Buffer
	fmt.Fprintf(&b, "release:\n  version: %q\n  channel: %q\n  components:\n", r.Spec.Version, r.Spec.Channel)
	for _, img := range r.Images {
		if !img.Infrastructure {
			fmt.Fprintf(&b, "    - name: %s\n      image: %s\n", img.Name, r.Ref(img))
		}
	}
	b.WriteString("  infrastructure:\n")
	for _, img := range r.Images {
		if img.Infrastructure {
			fmt.Fprintf(&b, "    %s:\n      image: %s\n", img.Name, r.Ref(img))
		}
	}
	return b.Bytes()
}

// Ref returns an image's pinned reference.
func (r *Release) Ref(img Image) string {
	return fmt.Sprintf("%s/%s@%s", r.Spec.Registry, img.Repository, img.Descriptor.Digest)
}

// WriteFiles writes the release file and two advisory feeds under dir and
// returns their paths: dir/release.yaml and dir/advisories/.
func (r *Release) WriteFiles(dir string) (releaseFile, advisories string, err error) {
	releaseFile = filepath.Join(dir, "release.yaml")
	advisories = filepath.Join(dir, "advisories")
	if err := os.MkdirAll(advisories, 0o755); err != nil {
		return "", "", err
	}
	if err := os.WriteFile(releaseFile, r.ReleaseYAML(), 0o644); err != nil {
		return "", "", err
	}
	for _, feed := range []string{"nvd", "ghsa"} {
		data, err := Advisory(feed, r.Spec.Seed^r.Spec.Variant)
		if err != nil {
			return "", "", err
		}
		if err := os.WriteFile(filepath.Join(advisories, feed+"-2025-12-01.json.gz"), data, 0o644); err != nil {
			return "", "", err
		}
	}
	for i := 0; i < r.Spec.Advisories; i++ {
		dir := filepath.Join(advisories, "extra", fmt.Sprintf("%03d", i%100))
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return "", "", err
		}
		data := fmt.Sprintf("{\"id\":\"EXTRA-%06d\",\"seed\":%d}\n", i, r.Spec.Seed^r.Spec.Variant)
		if err := os.WriteFile(filepath.Join(dir, fmt.Sprintf("adv-%06d.json", i)), []byte(data), 0o644); err != nil {
			return "", "", err
		}
	}
	return releaseFile, advisories, nil
}

// Advisory returns a small gzip'd JSON advisory feed, deterministic for
// (feed, seed).
func Advisory(feed string, seed uint64) ([]byte, error) {
	var items []map[string]any
	r := rand.New(rand.NewPCG(seed, uint64(len(feed))))
	for i := 0; i < 50; i++ {
		items = append(items, map[string]any{
			"id":       fmt.Sprintf("%s-2025-%05d", strings.ToUpper(feed), r.IntN(99999)),
			"severity": []string{"LOW", "MEDIUM", "HIGH", "CRITICAL"}[r.IntN(4)],
			"package":  fmt.Sprintf("pkg-%d", r.IntN(1000)),
		})
	}
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	if err := json.NewEncoder(zw).Encode(map[string]any{"feed": feed, "items": items}); err != nil {
		return nil, err
	}
	if err := zw.Close(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// Read returns the content of a pushed blob for tests that compare bytes.
func Read(ctx context.Context, src content.Fetcher, d ocispec.Descriptor) ([]byte, error) {
	rc, err := src.Fetch(ctx, d)
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	return io.ReadAll(rc)
}
