package mirror

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"path/filepath"
	"sort"
	"strings"

	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/stellaops/mirror/pkg/bundle"
	"github.com/stellaops/mirror/pkg/errdef"
	"github.com/stellaops/mirror/pkg/layout"
)

// metadata is what a bundle says about itself, read from a directory or the
// head of a tar: its files, its manifests, manifest.json and the root.
// Nothing here is trusted until a signature over ManifestBytes verifies.
type metadata struct {
	// Files returns a head file's bytes (manifest.json, manifest.dsse, …);
	// errdef.ErrNotFound if the bundle has none.
	File func(name string) ([]byte, error)
	// Doc returns a verified manifest or index.
	Doc func(ctx context.Context, desc ocispec.Descriptor) ([]byte, error)

	// ManifestDesc is manifest.json's digest and size; its bytes are
	// read again when wanted (manifestBytes), not held.
	ManifestDesc ocispec.Descriptor
	Manifest     *bundle.Manifest
	RootDesc     ocispec.Descriptor
	// index.json and the root are parsed again when wanted (index, root),
	// not held: each lists every image, 2.1 KiB an image of the scale
	// release parsed, held through a whole import. signatures are the
	// entries of index.json with the DSSE artifact type, which placements
	// and pull look for.
	signatures []ocispec.Descriptor
}

// index returns index.json, parsed.
func (md *metadata) index() (*ocispec.Index, error) {
	data, err := md.File(layout.IndexFile)
	if err != nil {
		return nil, err
	}
	return layout.ParseIndex(data)
}

// root returns the bundle root, read through Doc (which verifies it) and
// parsed.
func (md *metadata) root(ctx context.Context) (*ocispec.Index, error) {
	data, err := md.Doc(ctx, md.RootDesc)
	if err != nil {
		return nil, aboutDigest("root index", md.RootDesc.Digest, err)
	}
	return bundle.ParseRoot(data)
}

// aboutDigest says err is about what (a blob, the root index) of digest dg,
// naming dg once: an error that starts with it already (a
// bundle.ContentError, "sha256:…: content hashes to …") is not given it
// again ("blob sha256:…: sha256:…: content hashes to …" said it twice).
func aboutDigest(what string, dg digest.Digest, err error) error {
	if strings.HasPrefix(err.Error(), dg.String()+": ") {
		return fmt.Errorf("%s %w", what, err)
	}
	return fmt.Errorf("%s %s: %w", what, dg, err)
}

// inBundle says err is about the bundle at path (a directory or an
// archive), naming it once: an error that names a file in it already
// ("DIR/blobs/sha256/…: …") is not given it again ("DIR: DIR/…: …" said
// it twice).
func inBundle(path string, err error) error {
	if namesFileIn(path, err) {
		return err
	}
	return fmt.Errorf("%s: %w", path, err)
}

// namesFileIn says whether err starts with the path of a file in dir.
func namesFileIn(dir string, err error) bool {
	return dir != "" && strings.HasPrefix(err.Error(), filepath.Clean(dir)+string(filepath.Separator))
}

// manifestBytes returns manifest.json as it was parsed: read again through
// File, and checked against the digest of the bytes parsed.
func (md *metadata) manifestBytes() ([]byte, error) {
	data, err := md.File(layout.ManifestFile)
	if err != nil {
		return nil, err
	}
	if err := bundle.VerifyBytes(data, md.ManifestDesc); err != nil {
		return nil, fmt.Errorf("%s: %w", layout.ManifestFile, err)
	}
	return data, nil
}

// readMetadata builds metadata from file and doc accessors: index.json,
// manifest.json and the root, each checked for shape.
func readMetadata(ctx context.Context, file func(string) ([]byte, error), doc func(context.Context, ocispec.Descriptor) ([]byte, error)) (*metadata, error) {
	md := &metadata{File: file, Doc: doc}
	data, err := file(layout.IndexFile)
	if err != nil {
		return nil, err
	}
	index, err := layout.ParseIndex(data)
	if err != nil {
		return nil, err
	}
	for _, d := range index.Manifests {
		if d.ArtifactType == bundle.ArtifactTypeDSSE {
			md.signatures = append(md.signatures, d)
		}
	}
	mjson, err := file(layout.ManifestFile)
	if err != nil {
		return nil, err
	}
	if md.Manifest, err = bundle.ParseManifest(mjson); err != nil {
		return nil, err
	}
	md.ManifestDesc = ocispec.Descriptor{MediaType: bundle.MediaTypeManifestJSON, Digest: digest.FromBytes(mjson), Size: int64(len(mjson))}
	if md.RootDesc, err = rootOf(index, md.Manifest.Release.Version); err != nil {
		return nil, err
	}
	if _, err := md.root(ctx); err != nil {
		return nil, err
	}
	return md, nil
}

// rootOf finds the bundle root in index.json: the entry with the bundle
// artifactType tagged with the release version.
func rootOf(idx *ocispec.Index, version string) (ocispec.Descriptor, error) {
	var found []ocispec.Descriptor
	for _, d := range idx.Manifests {
		if d.ArtifactType == bundle.ArtifactTypeBundle {
			found = append(found, d)
		}
	}
	if len(found) == 0 {
		// A root of a newer format says so, rather than "0 roots".
		for _, d := range idx.Manifests {
			if err := bundle.CheckArtifactType(layout.IndexFile+": root "+d.Digest.String(), d.ArtifactType, bundle.ArtifactTypeBundle); err != nil {
				return ocispec.Descriptor{}, err
			}
		}
	}
	if len(found) != 1 {
		return ocispec.Descriptor{}, fmt.Errorf("%s: %d bundle roots (artifactType %s), want 1: %w", layout.IndexFile, len(found), bundle.ArtifactTypeBundle, errdef.ErrMalformed)
	}
	if tag := found[0].Annotations[ocispec.AnnotationRefName]; tag != version {
		return ocispec.Descriptor{}, fmt.Errorf("%s: root is tagged %q, manifest.json says version %q: %w", layout.IndexFile, tag, version, errdef.ErrMalformed)
	}
	if found[0].MediaType != ocispec.MediaTypeImageIndex {
		return ocispec.Descriptor{}, fmt.Errorf("%s: root %s is not an image index: %w", layout.IndexFile, found[0].Digest, errdef.ErrMalformed)
	}
	return found[0], nil
}

// checkStructure checks that the root lists exactly what manifest.json
// names, that every cosign tag it names is for a manifest the bundle
// carries for that image, and that the metadata manifest carries
// manifest.json's exact bytes.
// Root and metadata manifest must be, byte for byte, those manifest.json
// makes (bundle.CheckDerived). Together with a signature over
// manifest.json this extends the signature to every part of the bundle.
func (md *metadata) checkStructure(ctx context.Context) error {
	root, err := md.root(ctx)
	if err != nil {
		return err
	}
	if err := bundle.CheckRoot(root, md.Manifest); err != nil {
		return err
	}
	if err := md.checkCosignTags(ctx); err != nil {
		return err
	}
	return md.checkMetadataDerived(ctx, root)
}

// checkMetadataDerived checks that the metadata manifest carries
// manifest.json's exact bytes, and that it and the root are, byte for
// byte, those manifest.json makes: what binds the root's digest, and its
// annotations (version, generation), to the signed manifest.json.
func (md *metadata) checkMetadataDerived(ctx context.Context, root *ocispec.Index) error {
	metaDesc, err := bundle.MetadataDescriptor(root)
	if err != nil {
		return err
	}
	metaBytes, err := md.Doc(ctx, metaDesc)
	if err != nil {
		return fmt.Errorf("metadata manifest %s: %w", metaDesc.Digest, err)
	}
	if err := bundle.CheckMetadata(metaBytes, md.ManifestDesc, md.Manifest); err != nil {
		return err
	}
	return bundle.CheckDerived(md.RootDesc, metaBytes, md.ManifestDesc, md.Manifest)
}

// openMetadata reads the metadata of a bundle directory or a bundle tar
// (plain, gzip or zstd). For a tar it reads the head, and the rest of the
// archive only if it is not in pack order.
// The returned close releases the source; md.Doc reads through it.
func openMetadata(ctx context.Context, path string) (*metadata, func(), error) {
	src, err := openSource(ctx, path, nil)
	if err != nil {
		return nil, nil, err
	}
	md, err := src.metadata(ctx)
	if err != nil {
		src.close()
		return nil, nil, err
	}
	return md, src.close, nil
}

// checkIndex checks index.json: the root tagged with the release
// version, each image under "<repository>:<version>" exactly as
// LayoutIndex writes it, and at most one untagged signature referrer whose
// subject is the root and whose layer is manifest.dsse. It returns the
// referrer's descriptor, if any. With signing, referrers are not checked
// nor returned: signing replaces them. verify, import, serve and push check
// it for a directory or archive, so that what any OCI tool would read from
// the layout is what was signed; a bundle read from a registry has no
// index.json of its own.
func (md *metadata) checkIndex(ctx context.Context, signing bool) ([]ocispec.Descriptor, error) {
	want := map[string]ocispec.Descriptor{}
	key := func(d ocispec.Descriptor) string {
		return d.MediaType + " " + d.Digest.String() + " " + fmt.Sprint(d.Size) + " " + d.Annotations[ocispec.AnnotationRefName]
	}
	for _, d := range LayoutIndex(md.Manifest, md.RootDesc).Manifests {
		want[key(d)] = d
	}
	index, err := md.index()
	if err != nil {
		return nil, err
	}
	var referrers []ocispec.Descriptor
	for _, d := range index.Manifests {
		if d.ArtifactType == bundle.ArtifactTypeDSSE && d.Annotations[ocispec.AnnotationRefName] == "" {
			referrers = append(referrers, d)
			continue
		}
		if _, ok := want[key(d)]; !ok {
			return nil, fmt.Errorf("%s lists %s (%q) that manifest.json does not name: %w", layout.IndexFile, d.Digest, d.Annotations[ocispec.AnnotationRefName], errdef.ErrMalformed)
		}
		delete(want, key(d))
	}
	if len(want) > 0 {
		var lacking []string
		for _, d := range want {
			lacking = append(lacking, fmt.Sprintf("%s (%q)", d.Digest, d.Annotations[ocispec.AnnotationRefName]))
		}
		sort.Strings(lacking)
		return nil, fmt.Errorf("%s lacks %s that manifest.json names: %w", layout.IndexFile, strings.Join(lacking, ", "), errdef.ErrMalformed)
	}
	if signing {
		return nil, nil
	}
	envelope, err := md.File(layout.EnvelopeFile)
	if err != nil && !errors.Is(err, errdef.ErrNotFound) {
		return nil, err
	}
	switch {
	case envelope == nil && len(referrers) == 0:
		return nil, nil
	case envelope == nil || len(referrers) != 1:
		return nil, fmt.Errorf("%s lists %d signature referrers for %d %s: %w", layout.IndexFile, len(referrers), min(len(envelope), 1), layout.EnvelopeFile, errdef.ErrMalformed)
	}
	data, err := md.Doc(ctx, referrers[0])
	if err != nil {
		return nil, missingIsMismatch(err)
	}
	var man ocispec.Manifest
	if err := json.Unmarshal(data, &man); err != nil {
		return nil, fmt.Errorf("signature referrer %s: %v: %w", referrers[0].Digest, err, errdef.ErrMalformed)
	}
	envDigest := digest.FromBytes(envelope)
	if man.ArtifactType != bundle.ArtifactTypeDSSE || man.Subject == nil || man.Subject.Digest != md.RootDesc.Digest ||
		len(man.Layers) != 1 || man.Layers[0].Digest != envDigest || man.Layers[0].Size != int64(len(envelope)) {
		return nil, fmt.Errorf("signature referrer %s does not attach this %s (%s) to the root %s: %w",
			referrers[0].Digest, layout.EnvelopeFile, envDigest, md.RootDesc.Digest, errdef.ErrDigestMismatch)
	}
	if err := bundle.CheckSignatureManifest(data, md.RootDesc, man.Layers[0]); err != nil {
		return nil, err
	}
	return referrers, nil
}
