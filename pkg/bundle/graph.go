package bundle

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strconv"
	"time"

	"github.com/opencontainers/go-digest"
	specs "github.com/opencontainers/image-spec/specs-go"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/stellaops/mirror/pkg/errdef"
)

// EmptyConfig is the descriptor of the empty JSON config ("{}") that the
// metadata and signature manifests use, as OCI 1.1 artifacts do.
var EmptyConfig = ocispec.Descriptor{
	MediaType: ocispec.MediaTypeEmptyJSON,
	Digest:    ocispec.DescriptorEmptyJSON.Digest,
	Size:      ocispec.DescriptorEmptyJSON.Size,
}

// EmptyConfigBytes is the content of EmptyConfig.
var EmptyConfigBytes = []byte("{}")

// Document is an encoded OCI manifest or index with its descriptor.
type Document struct {
	Descriptor ocispec.Descriptor
	Bytes      []byte
}

func newDocument(mediaType string, v any) (Document, error) {
	b, err := Compact(v)
	if err != nil {
		return Document{}, err
	}
	return Document{
		Descriptor: ocispec.Descriptor{MediaType: mediaType, Digest: digest.FromBytes(b), Size: int64(len(b))},
		Bytes:      b,
	}, nil
}

// MetadataManifest builds the metadata manifest: an OCI image manifest with
// the empty config whose layers are manifest.json, then every advisory, then
// every file, each titled with its path.
func MetadataManifest(manifestJSON ocispec.Descriptor, m *Manifest) (Document, error) {
	layers := []ocispec.Descriptor{withTitle(manifestJSON, "manifest.json")}
	for _, f := range append(append([]File{}, m.Advisories...), m.Files...) {
		layers = append(layers, withTitle(ocispec.Descriptor{MediaType: f.MediaType, Digest: f.Digest, Size: f.Size}, f.Path))
	}
	man := ocispec.Manifest{
		Versioned:    specs.Versioned{SchemaVersion: 2},
		MediaType:    ocispec.MediaTypeImageManifest,
		ArtifactType: ArtifactTypeMetadata,
		Config:       EmptyConfig,
		Layers:       layers,
		Annotations:  map[string]string{ocispec.AnnotationCreated: m.CreatedAt.UTC().Format(time.RFC3339)},
	}
	doc, err := newDocument(ocispec.MediaTypeImageManifest, man)
	doc.Descriptor.ArtifactType = ArtifactTypeMetadata
	return doc, err
}

func withTitle(d ocispec.Descriptor, title string) ocispec.Descriptor {
	d.Annotations = map[string]string{ocispec.AnnotationTitle: title}
	return d
}

// RootIndex builds a bundle's root: an OCI image index with
// ArtifactTypeBundle whose children are the metadata manifest, every image
// and every image referrer, in manifest.json's order. Its annotations repeat
// the release version, channel, generation, bundle id and creation time so
// that a registry listing can show them without fetching manifest.json.
func RootIndex(m *Manifest, metadata ocispec.Descriptor) (Document, error) {
	children := []ocispec.Descriptor{{
		MediaType:    metadata.MediaType,
		ArtifactType: ArtifactTypeMetadata,
		Digest:       metadata.Digest,
		Size:         metadata.Size,
		Annotations:  map[string]string{AnnotationRole: RoleMetadata},
	}}
	for _, img := range m.Images {
		children = append(children, ocispec.Descriptor{
			MediaType:   img.MediaType,
			Digest:      img.Digest,
			Size:        img.Size,
			Annotations: map[string]string{AnnotationRole: RoleImage, AnnotationRepository: img.Repository},
		})
	}
	// A manifest attached both by subject and by a cosign tag is one
	// referrer of the image twice in manifest.json (with and without its
	// tag): the root lists it once.
	listed := map[string]bool{}
	for _, img := range m.Images {
		for _, r := range img.Referrers {
			key := img.Repository + "@" + r.Digest.String()
			if listed[key] {
				continue
			}
			listed[key] = true
			children = append(children, ocispec.Descriptor{
				MediaType:    r.MediaType,
				ArtifactType: r.ArtifactType,
				Digest:       r.Digest,
				Size:         r.Size,
				Annotations:  map[string]string{AnnotationRole: RoleReferrer, AnnotationRepository: img.Repository},
			})
		}
	}
	idx := ocispec.Index{
		Versioned:    specs.Versioned{SchemaVersion: 2},
		MediaType:    ocispec.MediaTypeImageIndex,
		ArtifactType: ArtifactTypeBundle,
		Manifests:    children,
		Annotations:  rootAnnotations(m),
	}
	doc, err := newDocument(ocispec.MediaTypeImageIndex, idx)
	doc.Descriptor.ArtifactType = ArtifactTypeBundle
	return doc, err
}

func rootAnnotations(m *Manifest) map[string]string {
	a := map[string]string{
		ocispec.AnnotationVersion: m.Release.Version,
		ocispec.AnnotationCreated: m.CreatedAt.UTC().Format(time.RFC3339),
		AnnotationGeneration:      strconv.FormatInt(m.MirrorGeneration, 10),
		AnnotationBundleID:        m.BundleID,
	}
	if m.Release.Channel != "" {
		a[AnnotationChannel] = m.Release.Channel
	}
	return a
}

// SignatureManifest builds the DSSE referrer: an OCI image manifest with
// artifactType ArtifactTypeDSSE, the empty config, one layer holding the
// envelope, and the bundle root as its subject.
func SignatureManifest(root, envelope ocispec.Descriptor, created time.Time) (Document, error) {
	subject := ocispec.Descriptor{MediaType: root.MediaType, Digest: root.Digest, Size: root.Size}
	man := ocispec.Manifest{
		Versioned:    specs.Versioned{SchemaVersion: 2},
		MediaType:    ocispec.MediaTypeImageManifest,
		ArtifactType: ArtifactTypeDSSE,
		Config:       EmptyConfig,
		Layers:       []ocispec.Descriptor{{MediaType: ArtifactTypeDSSE, Digest: envelope.Digest, Size: envelope.Size}},
		Subject:      &subject,
		Annotations:  map[string]string{ocispec.AnnotationCreated: created.UTC().Format(time.RFC3339)},
	}
	doc, err := newDocument(ocispec.MediaTypeImageManifest, man)
	doc.Descriptor.ArtifactType = ArtifactTypeDSSE
	return doc, err
}

// CheckSignatureManifest checks that data, a DSSE referrer a bundle
// carries, is exactly the manifest SignatureManifest writes for the root
// and the envelope, at the time its created annotation says. No signature
// covers the referrer, only the envelope in it: another config, a second
// layer, an annotation or a media type of the bundle's choosing would be
// content nobody signed, pushed to the target with the bundle. Errors wrap
// errdef.ErrMalformed and name the referrer.
func CheckSignatureManifest(data []byte, root, envelope ocispec.Descriptor) error {
	bad := func(why string) error {
		return fmt.Errorf("signature referrer %s %s: %w", digest.FromBytes(data), why, errdef.ErrMalformed)
	}
	var man struct {
		Annotations map[string]string `json:"annotations"`
	}
	if err := json.Unmarshal(data, &man); err != nil {
		return bad("is not JSON")
	}
	created, err := time.Parse(time.RFC3339, man.Annotations[ocispec.AnnotationCreated])
	if err != nil {
		return bad("has no RFC 3339 " + ocispec.AnnotationCreated + " annotation")
	}
	root.MediaType = ocispec.MediaTypeImageIndex
	envelope.MediaType = ArtifactTypeDSSE
	want, err := SignatureManifest(root, envelope, created)
	if err != nil {
		return err
	}
	if !bytes.Equal(want.Bytes, data) {
		return bad(fmt.Sprintf("is not the manifest sign writes for envelope %s and root %s (its config, layers, annotations or subject differ)", envelope.Digest, root.Digest))
	}
	return nil
}

// ParseRoot decodes a root index and checks its artifactType. The caller
// has already checked the bytes against their digest and size.
func ParseRoot(data []byte) (*ocispec.Index, error) {
	var idx ocispec.Index
	if err := json.Unmarshal(data, &idx); err != nil {
		return nil, fmt.Errorf("root index: %v: %w", err, errdef.ErrMalformed)
	}
	if err := CheckArtifactType("root index "+digest.FromBytes(data).String(), idx.ArtifactType, ArtifactTypeBundle); err != nil {
		return nil, err
	}
	if idx.MediaType != ocispec.MediaTypeImageIndex || idx.ArtifactType != ArtifactTypeBundle {
		return nil, fmt.Errorf("root index: artifactType %q is not %s: %w", idx.ArtifactType, ArtifactTypeBundle, errdef.ErrMalformed)
	}
	return &idx, nil
}

// MetadataDescriptor returns the root's metadata child; a root must have
// exactly one.
func MetadataDescriptor(root *ocispec.Index) (ocispec.Descriptor, error) {
	var found []ocispec.Descriptor
	for _, d := range root.Manifests {
		if d.Annotations[AnnotationRole] == RoleMetadata {
			found = append(found, d)
		}
	}
	if len(found) != 1 {
		return ocispec.Descriptor{}, fmt.Errorf("root index has %d metadata manifests, want 1: %w", len(found), errdef.ErrMalformed)
	}
	return found[0], nil
}

// CheckRoot checks that a root index lists exactly what manifest.json names:
// one metadata manifest, every image and every referrer, nothing else, and
// the same release version and generation. With manifest.json signed, this is
// what extends the signature to the root.
func CheckRoot(root *ocispec.Index, m *Manifest) error {
	meta, err := MetadataDescriptor(root)
	if err != nil {
		return err
	}
	want, err := RootIndex(m, meta)
	if err != nil {
		return err
	}
	var wantIdx ocispec.Index
	if err := json.Unmarshal(want.Bytes, &wantIdx); err != nil {
		return err
	}
	key := func(d ocispec.Descriptor) string {
		return d.Annotations[AnnotationRole] + " " + d.Annotations[AnnotationRepository] + " " + d.MediaType + " " + d.Digest.String() + " " + strconv.FormatInt(d.Size, 10)
	}
	wantSet := map[string]bool{}
	for _, d := range wantIdx.Manifests {
		wantSet[key(d)] = true
	}
	gotSet := map[string]bool{}
	for _, d := range root.Manifests {
		k := key(d)
		if !wantSet[k] {
			return fmt.Errorf("root index lists %s %s (%s) that manifest.json does not name: %w", roleOf(d), d.Digest, d.Annotations[AnnotationRepository], errdef.ErrMalformed)
		}
		if gotSet[k] {
			return fmt.Errorf("root index lists %s twice: %w", d.Digest, errdef.ErrMalformed)
		}
		gotSet[k] = true
	}
	for _, d := range wantIdx.Manifests {
		if !gotSet[key(d)] {
			return fmt.Errorf("manifest.json names %s %s (%s) that the root index does not list: %w", roleOf(d), d.Digest, d.Annotations[AnnotationRepository], errdef.ErrMalformed)
		}
	}
	for k, v := range wantIdx.Annotations {
		if root.Annotations[k] != v {
			return fmt.Errorf("root index annotation %s is %q, manifest.json says %q: %w", k, root.Annotations[k], v, errdef.ErrMalformed)
		}
	}
	return nil
}

func roleOf(d ocispec.Descriptor) string {
	if r := d.Annotations[AnnotationRole]; r != "" {
		return r
	}
	return "manifest"
}

// CheckMetadata checks that the metadata manifest's layers are exactly
// manifest.json (with the given descriptor) and the advisories and files
// manifest.json names, under their paths.
func CheckMetadata(data []byte, manifestJSON ocispec.Descriptor, m *Manifest) error {
	var got ocispec.Manifest
	if err := json.Unmarshal(data, &got); err != nil {
		return fmt.Errorf("metadata manifest: %v: %w", err, errdef.ErrMalformed)
	}
	want, err := MetadataManifest(manifestJSON, m)
	if err != nil {
		return err
	}
	var wantMan ocispec.Manifest
	if err := json.Unmarshal(want.Bytes, &wantMan); err != nil {
		return err
	}
	if err := CheckArtifactType("metadata manifest "+digest.FromBytes(data).String(), got.ArtifactType, ArtifactTypeMetadata); err != nil {
		return err
	}
	if got.ArtifactType != ArtifactTypeMetadata || len(got.Layers) != len(wantMan.Layers) {
		return fmt.Errorf("metadata manifest: %d layers of type %q, want %d of %q: %w", len(got.Layers), got.ArtifactType, len(wantMan.Layers), ArtifactTypeMetadata, errdef.ErrMalformed)
	}
	for i, w := range wantMan.Layers {
		g := got.Layers[i]
		if g.Digest != w.Digest || g.Size != w.Size || g.MediaType != w.MediaType || g.Annotations[ocispec.AnnotationTitle] != w.Annotations[ocispec.AnnotationTitle] {
			return fmt.Errorf("metadata manifest layer %d (%s %s) does not match manifest.json (%s %s): %w",
				i, g.Annotations[ocispec.AnnotationTitle], g.Digest, w.Annotations[ocispec.AnnotationTitle], w.Digest, errdef.ErrMalformed)
		}
	}
	return nil
}

// CheckDerived checks that the root (its descriptor) and the metadata
// manifest (its bytes) are, byte for byte, those manifest.json makes
// (MetadataManifest, RootIndex). manifest.json names neither by digest:
// CheckRoot and CheckMetadata bind what they list, and this binds the
// rest (a config, a subject, an annotation, any other field), which would
// otherwise reach the registry with the signed bundle though nobody signed
// it. Call it after those two, whose errors say more. Errors wrap
// errdef.ErrMalformed and name the manifest at fault.
func CheckDerived(root ocispec.Descriptor, metadata []byte, manifestJSON ocispec.Descriptor, m *Manifest) error {
	meta, err := MetadataManifest(manifestJSON, m)
	if err != nil {
		return err
	}
	if !bytes.Equal(meta.Bytes, metadata) {
		return fmt.Errorf("metadata manifest %s is not the one manifest.json makes (%s): a config, annotation or field differs: %w",
			digest.FromBytes(metadata), meta.Descriptor.Digest, errdef.ErrMalformed)
	}
	want, err := RootIndex(m, meta.Descriptor)
	if err != nil {
		return err
	}
	if want.Descriptor.Digest != root.Digest {
		return fmt.Errorf("root index %s is not the one manifest.json makes (%s): a subject, annotation or field differs: %w",
			root.Digest, want.Descriptor.Digest, errdef.ErrMalformed)
	}
	return nil
}

// ArtifactTypeFiles is the artifactType of the files referrer: a manifest
// whose subject is the root and whose layers are the bundle directory's
// files that no digest in the bundle covers (public-key.pem, SHA256SUMS,
// SHA256SUMS.sig, certificates). It lives only in registries, so that pull
// can give back the directory sign wrote; SHA256SUMS lists every blob of the
// bundle, so this manifest cannot be one of them.
const ArtifactTypeFiles = "application/vnd.stellaops.mirror.files.v1+json"

// NamedFile is a file of a bundle directory carried as a layer.
type NamedFile struct {
	Name string
	Data []byte
}

// FilesManifest builds the files referrer of root: the empty config, one
// layer per file (titled with its name), root as subject.
func FilesManifest(root ocispec.Descriptor, files []NamedFile, created time.Time) (Document, []ocispec.Descriptor, error) {
	var layers []ocispec.Descriptor
	for _, f := range files {
		layers = append(layers, withTitle(ocispec.Descriptor{MediaType: "application/octet-stream", Digest: digest.FromBytes(f.Data), Size: int64(len(f.Data))}, f.Name))
	}
	subject := ocispec.Descriptor{MediaType: root.MediaType, Digest: root.Digest, Size: root.Size}
	man := ocispec.Manifest{
		Versioned:    specs.Versioned{SchemaVersion: 2},
		MediaType:    ocispec.MediaTypeImageManifest,
		ArtifactType: ArtifactTypeFiles,
		Config:       EmptyConfig,
		Layers:       layers,
		Subject:      &subject,
		Annotations:  map[string]string{ocispec.AnnotationCreated: created.UTC().Format(time.RFC3339)},
	}
	doc, err := newDocument(ocispec.MediaTypeImageManifest, man)
	doc.Descriptor.ArtifactType = ArtifactTypeFiles
	return doc, layers, err
}
