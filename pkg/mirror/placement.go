package mirror

import (
	"context"
	"errors"
	"fmt"

	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/stellaops/mirror/pkg/bundle"
	"github.com/stellaops/mirror/pkg/errdef"
	"github.com/stellaops/mirror/pkg/keys"
	"github.com/stellaops/mirror/pkg/layout"
)

// placement says where every part of a verified bundle goes in a target
// registry: each image (with its referrers) in its mapped repository, and
// the whole bundle graph (root, metadata, images, signature) in the bundle
// repository, so that the root there is complete and pullable by digest.
// import, serve and sync --images share it.
type placement struct {
	bundleRepo string
	// registry is placementOptions.registry.
	registry string
	// bundleTag is the tag the bundle root gets: the one the destination
	// reference gives, else the release version.
	bundleTag string
	// blobs are the non-manifest blobs in a stable order, each with the
	// repositories that need it; the first is where its bytes go, the
	// others get it by mount.
	blobs []*blobPlace
	byDig map[digest.Digest]*blobPlace
	// phases of manifest pushes, children before parents: image manifests,
	// image referrers, bundle metadata and root, then the signature and the
	// files referrer.
	images, referrers, root, signature, files []manifestPlace
	// memBlobs are blobs whose bytes are in hand (the files referrer's).
	memBlobs []memBlob
	// tags are written last.
	tags []tagPlace
	// advisories maps an advisory blob to its paths in the bundle.
	advisories map[digest.Digest][]string
	// filesLeft says why the bundle's side files (public-key.pem,
	// SHA256SUMS and its signature) are not carried, if they are not.
	filesLeft error
	// placed holds every manifest already in a phase, in its repository;
	// nil once planned.
	placed map[repoDigest]bool
	// held are blobs their first repository is known to hold: a delta's
	// omitted blobs, which checkDeltaBase asked about. Their answers are in
	// from the start, not asked again (checkAhead).
	held map[digest.Digest]bool
	// blobIn holds every blob already given a repository, so that a blob
	// all images share (a base layer) is not looked for along its
	// repository list once per image: that is quadratic in the images.
	// nil once planned.
	blobIn map[repoDigest]bool
	// docs holds, while planning, each manifest already placed in some
	// repository, for the others to share; nil once planned.
	docs map[docKey]*placedDoc
}

// repoDigest is a blob or manifest in a repository: a key of placement's
// sets that shares its strings with the descriptors (a "repo@digest"
// string made for each was a hundred bytes more, twenty an image, held
// through the whole import).
type repoDigest struct {
	repo   string
	digest digest.Digest
}

func newPlacement(bundleRepo string) *placement {
	return &placement{bundleRepo: bundleRepo, byDig: map[digest.Digest]*blobPlace{}, advisories: map[digest.Digest][]string{},
		placed: map[repoDigest]bool{}, blobIn: map[repoDigest]bool{}, docs: map[docKey]*placedDoc{}}
}

type blobPlace struct {
	desc  ocispec.Descriptor
	repos []string
}

// memBlob is a blob placed from memory: data, or the bundle's head file
// file, read when it is placed (SHA256SUMS grows with the images: 3.9 MB
// at 3000, held by the plan through the whole import).
type memBlob struct {
	repo string
	desc ocispec.Descriptor
	data []byte
	file string
}

// bytes returns the blob's content: data, or its file read again through
// md.File and checked against the blob's descriptor.
func (b memBlob) bytes(md *metadata) ([]byte, error) {
	if b.file == "" {
		return b.data, nil
	}
	data, err := md.File(b.file)
	if err != nil {
		return nil, err
	}
	if err := bundle.VerifyBytes(data, b.desc); err != nil {
		return nil, fmt.Errorf("%s: %w", b.file, err)
	}
	return data, nil
}

// manifestPlace is a manifest in a repository. The manifest itself is
// shared by every repository it goes to: an image's manifests go to its
// own repository and the bundle's, and a place was a whole descriptor and
// the bytes' header (160 bytes) for each, copied again by every phase
// pushed.
type manifestPlace struct {
	repo string
	*placedDoc
}

// placedDoc is a manifest or index of a placement, with its verified
// bytes.
type placedDoc struct {
	desc ocispec.Descriptor
	data []byte
}

func newManifestPlace(repo string, desc ocispec.Descriptor, data []byte) manifestPlace {
	return manifestPlace{repo: repo, placedDoc: &placedDoc{desc: desc, data: data}}
}

// docKey is a manifest as a placement describes it: the same digest named
// with another media type is another place.
type docKey struct {
	mediaType, artifactType string
	digest                  digest.Digest
	size                    int64
}

type tagPlace struct {
	repo string
	tag  string
	desc ocispec.Descriptor
	data []byte
	// keep leaves the tag as it is where it already names another
	// manifest: a cosign tag, which the far side may have extended with
	// its own signatures (cosign adds to the manifest a tag names).
	keep bool
	// ours, with keep, is the bundle repository, which holds by digest
	// every manifest a bundle imported there carried: a tag naming one of
	// those was written by an earlier import (the upstream signed again
	// since), and is moved; one naming any other manifest is kept, and
	// every one where ours is repo itself.
	ours string
}

// ImageName is where an image of a bundle lands: the plan's load.sh rule
// (drop the source host), under an optional prefix.
func ImageName(prefix string, img bundle.Image) string {
	return bundle.MapRepository(prefix, img.Repository)
}

// placementOptions say where a bundle goes in a registry.
type placementOptions struct {
	// bundleRepo receives the whole bundle graph; bundleTag tags its root
	// (the release version if empty).
	bundleRepo, bundleTag string
	// mapImages also places every image (and its referrers) in its mapped
	// repository, [prefix/]<source path>, tagged with its tags.
	mapImages bool
	prefix    string
	// registry is the name of the source when it is a registry: a
	// manifest it lacks (deleted since the bundle was pushed, or during
	// the sync) is not found there (exit 1), named with it, as a blob it
	// lacks is; "" for a directory or an archive, which then lacks what
	// was signed (exit 2).
	registry string
}

// planPlacement builds the placement of md's bundle. Repository names are
// relative to the target registry (no host).
func planPlacement(ctx context.Context, md *metadata, o placementOptions) (*placement, error) {
	bundleRepo := o.bundleRepo
	p := newPlacement(bundleRepo)
	p.registry = o.registry
	m := md.Manifest
	// The files referrer first: checking its files parses SHA256SUMS (a
	// line a file, 27,000 for 3000 images: 12 MB of strings, digests and
	// sets, garbage at once), which, done last, came on top of every
	// manifest of the plan and made the peak of import and serve.
	if err := p.addFilesReferrer(md, bundleRepo); err != nil {
		return nil, err
	}
	// An image in several repositories, and indexes images share, are
	// read and parsed once.
	g := newGraphReader(md.Doc, true)
	for _, img := range m.Images {
		repo := ImageName(o.prefix, img)
		repos := []string{bundleRepo}
		if o.mapImages {
			repos = []string{repo, bundleRepo}
		}
		for _, r := range repos {
			if err := p.addGraph(ctx, g, r, imageDesc(img), &p.images); err != nil {
				return nil, err
			}
			for _, ref := range img.Referrers {
				if err := p.addGraph(ctx, g, r, ocispec.Descriptor{MediaType: ref.MediaType, ArtifactType: ref.ArtifactType, Digest: ref.Digest, Size: ref.Size}, &p.referrers); err != nil {
					return nil, err
				}
			}
		}
		if !o.mapImages {
			continue
		}
		// The bytes the graph reader holds (the walk above read them), not
		// a copy read again for the tag.
		rootData, err := g.read(ctx, imageDesc(img))
		if err != nil {
			return nil, err
		}
		for _, tag := range img.Tags {
			p.tags = append(p.tags, tagPlace{repo: repo, tag: tag, desc: imageDesc(img), data: rootData})
		}
		for _, ref := range img.Referrers {
			if ref.Tag == "" {
				continue
			}
			desc := ocispec.Descriptor{MediaType: ref.MediaType, Digest: ref.Digest, Size: ref.Size}
			data, err := g.read(ctx, desc)
			if err != nil {
				return nil, err
			}
			p.tags = append(p.tags, tagPlace{repo: repo, tag: ref.Tag, desc: desc, data: data, keep: true, ours: bundleRepo})
		}
	}
	if err := p.addGraph(ctx, g, bundleRepo, md.RootDesc, &p.root); err != nil {
		return nil, err
	}
	rootData, err := md.Doc(ctx, md.RootDesc)
	if err != nil {
		return nil, err
	}
	bundleTag := firstNonEmpty(o.bundleTag, m.Release.Version)
	p.bundleTag = bundleTag
	if o.mapImages {
		repoOf := func(img bundle.Image) string { return ImageName(o.prefix, img) }
		if img := m.TagConflict(repoOf, bundleRepo, bundleTag, md.RootDesc.Digest); img != "" {
			return nil, fmt.Errorf("the bundle's tag %s:%s would replace the tag of image %s, which the bundle places in the same repository: place the bundle in a repository of its own (import's --bundle-repo, whose default is %s, or sync's destination): %w",
				bundleRepo, bundleTag, img, bundle.DefaultBundleRepository, errdef.ErrUsage)
		}
	}
	p.tags = append(p.tags, tagPlace{repo: bundleRepo, tag: bundleTag, desc: plainDesc(md.RootDesc), data: rootData})
	for _, f := range m.Advisories {
		p.advisories[f.Digest] = append(p.advisories[f.Digest], f.Path)
	}
	if sig, ok, err := md.signatureReferrer(ctx); err != nil {
		return nil, err
	} else if ok {
		if err := p.addGraph(ctx, g, bundleRepo, sig, &p.signature); err != nil {
			return nil, err
		}
	}
	// The sets that kept the phases and blob lists free of repeats, and
	// the manifests' sharing, are for planning only; the placement is held
	// until its last tag is written (some 22 entries an image, 1 KiB of
	// the plan's 7).
	p.placed, p.blobIn, p.docs = nil, nil, nil
	return p, nil
}

// filesReferrerNames are the bundle files the files referrer carries.
var filesReferrerNames = []string{layout.PublicKeyFile, layout.ChecksumsFile, layout.ChecksumsSigFile, layout.CertificateFile, layout.CertificateChainFile}

// addFilesReferrer carries the bundle's files that no digest covers
// (public-key.pem, SHA256SUMS and its signature, certificates) as a
// referrer of the root, so that pull can give the directory back whole.
func (p *placement) addFilesReferrer(md *metadata, repo string) error {
	var files []bundle.NamedFile
	for _, name := range filesReferrerNames {
		if data, err := md.File(name); err == nil {
			files = append(files, bundle.NamedFile{Name: name, Data: data})
		}
	}
	if len(files) == 0 {
		return nil
	}
	// The files are no part of what the envelope signs: carry them only
	// as readers will take them, SHA256SUMS.sig verifying with a key that
	// signed the envelope and holding what SHA256SUMS lists. Others (a
	// public-key.pem replaced on the medium, say) would only be passed
	// over by every reader after; they are left out, and said so.
	held := map[string][]byte{}
	for _, f := range files {
		held[f.Name] = f.Data
	}
	envelope, err := md.File(layout.EnvelopeFile)
	switch {
	case err == nil:
		err = signersFiles(envelope, held)
		if err == nil {
			err = damagedKeyFile(held[layout.PublicKeyFile])
		}
	case errors.Is(err, errdef.ErrNotFound):
		// An unsigned bundle: its SHA256SUMS signs nothing, and a reader
		// of an unsigned root takes the files as they are, unless they
		// name an envelope (chooseWeighed).
		err = unsignedFiles(held)
	}
	if err != nil {
		p.filesLeft = err
		return nil
	}
	doc, layers, err := bundle.FilesManifest(md.RootDesc, files, md.Manifest.CreatedAt)
	if err != nil {
		return err
	}
	p.memBlobs = append(p.memBlobs, memBlob{repo: repo, desc: bundle.EmptyConfig, data: bundle.EmptyConfigBytes})
	for i, l := range layers {
		p.memBlobs = append(p.memBlobs, memBlob{repo: repo, desc: plainDesc(l), file: files[i].Name})
	}
	p.files = append(p.files, newManifestPlace(repo, plainDesc(doc.Descriptor), doc.Bytes))
	return nil
}

// damagedKeyFile is why a signed bundle's public-key.pem, pem, is not
// carried though the key that signed SHA256SUMS.sig is in it: a damaged
// block past that key, which verify, push and pack of a directory holding
// it refuse (exit 11). Readers of a bundle from a registry (import, sync,
// pull) leave the side files behind, said so; nil if none is damaged.
func damagedKeyFile(pem []byte) error {
	if be := (*keys.BlockError)(nil); errors.As(keysError(pem), &be) {
		return fmt.Errorf("%s: %v: verify, push and pack refuse a bundle holding it: %w", layout.PublicKeyFile, be, errdef.ErrMalformed)
	}
	return nil
}

// unsignedFiles checks the files of a bundle without manifest.dsse as a
// reader of an unsigned root would take them: a SHA256SUMS naming an
// envelope belongs to a signing, which the bundle lacks.
func unsignedFiles(files map[string][]byte) error {
	data, ok := files[layout.ChecksumsFile]
	if !ok {
		return nil
	}
	sums, err := bundle.ParseChecksums(data)
	if err != nil {
		return err
	}
	for _, c := range sums {
		if c.Path == layout.EnvelopeFile {
			return fmt.Errorf("%s lists %s, which the bundle lacks: %w", layout.ChecksumsFile, layout.EnvelopeFile, errdef.ErrMalformed)
		}
	}
	return nil
}

// addGraph adds desc and everything below it to repo: manifests in
// post-order into phase, blobs into the blob list.
func (p *placement) addGraph(ctx context.Context, g *graphReader, repo string, desc ocispec.Descriptor, phase *[]manifestPlace) error {
	err := visitGraph(ctx, desc, g, func(d ocispec.Descriptor) { p.addBlob(repo, d) }, func(d ocispec.Descriptor, data []byte) {
		if key := (repoDigest{repo, d.Digest}); !p.placed[key] {
			p.placed[key] = true
			key := docKey{d.MediaType, d.ArtifactType, d.Digest, d.Size}
			doc := p.docs[key]
			if doc == nil {
				doc = &placedDoc{desc: plainDesc(d), data: data}
				p.docs[key] = doc
			}
			*phase = append(*phase, manifestPlace{repo: repo, placedDoc: doc})
		}
	})
	// A manifest the verified bundle names and its directory or archive
	// lacks is content lost (exit 2), as verify says, not a path mistyped.
	if p.registry != "" {
		if err != nil {
			return fmt.Errorf("%s: %w", p.registry, err)
		}
		return nil
	}
	return missingIsMismatch(err)
}

func (p *placement) addBlob(repo string, d ocispec.Descriptor) {
	b, ok := p.byDig[d.Digest]
	if !ok {
		b = &blobPlace{desc: plainDesc(d)}
		p.byDig[d.Digest] = b
		p.blobs = append(p.blobs, b)
	}
	if key := (repoDigest{repo, d.Digest}); !p.blobIn[key] {
		p.blobIn[key] = true
		b.repos = append(b.repos, repo)
	}
}

func imageDesc(img bundle.Image) ocispec.Descriptor {
	return ocispec.Descriptor{MediaType: img.MediaType, Digest: img.Digest, Size: img.Size}
}

func plainDesc(d ocispec.Descriptor) ocispec.Descriptor {
	return ocispec.Descriptor{MediaType: d.MediaType, ArtifactType: d.ArtifactType, Digest: d.Digest, Size: d.Size}
}

// signatureReferrer finds the DSSE referrer of the root that index.json
// lists, and checks that its one layer is exactly manifest.dsse.
func (md *metadata) signatureReferrer(ctx context.Context) (ocispec.Descriptor, bool, error) {
	if len(md.signatures) == 0 {
		return ocispec.Descriptor{}, false, nil
	}
	// The first DSSE entry of index.json (checkIndex allows one).
	d := md.signatures[0]
	data, err := md.Doc(ctx, d)
	if err != nil {
		return ocispec.Descriptor{}, false, err
	}
	if bundle.SubjectOf(data) != md.RootDesc.Digest {
		return ocispec.Descriptor{}, false, fmt.Errorf("signature referrer %s does not refer to the root %s: %w", d.Digest, md.RootDesc.Digest, errdef.ErrMalformed)
	}
	children, err := bundle.Children(d, data)
	if err != nil {
		return ocispec.Descriptor{}, false, err
	}
	env, err := md.File(layout.EnvelopeFile)
	if err != nil {
		return ocispec.Descriptor{}, false, err
	}
	if len(children) != 2 || children[1].Digest != digest.FromBytes(env) {
		return ocispec.Descriptor{}, false, fmt.Errorf("signature referrer %s does not carry %s: %w", d.Digest, layout.EnvelopeFile, errdef.ErrMalformed)
	}
	envDesc := ocispec.Descriptor{Digest: digest.FromBytes(env), Size: int64(len(env))}
	if err := bundle.CheckSignatureManifest(data, md.RootDesc, envDesc); err != nil {
		return ocispec.Descriptor{}, false, err
	}
	return plainDesc(d), true, nil
}
