package serve

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"

	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/stellaops/mirror/pkg/bundle"
	"github.com/stellaops/mirror/pkg/errdef"
)

// Content is the Source a bundle is served from. Manifests are held in
// memory, verified as they are added; blobs are opened from a BlobStore.
// Each repository holds only what was placed in it, with everything below:
// a manifest or blob outside a repository's graph is unknown there, as it
// would be in a registry the bundle was imported into.
//
// Build a Content completely (AddManifest, AddBlob, Include, Tag), then
// serve it: it is safe for concurrent reads, not for adding content while it
// serves.
type Content struct {
	blobs     BlobStore
	manifests map[digest.Digest]*manifest
	// sizes holds the size of every non-manifest blob a manifest names.
	sizes map[digest.Digest]int64
	// mem holds the blobs added with their bytes.
	mem   map[digest.Digest]memBlob
	repos map[string]*repository
	names []string
	// mediaTypes holds one copy of each media type the children name:
	// a few for the thousands of children of a bundle.
	mediaTypes map[string]string
}

// memBlob is a blob held in memory.
type memBlob []byte

// manifest is a manifest held, with what Include and the referrers API
// need of it. A bundle of thousands of images holds tens of thousands, for
// as long as it is served: each child is its media type, digest and size
// (a whole descriptor, with its platform and annotations, was 15 MB of the
// 3000 images' live heap), and only a referrer keeps its description.
type manifest struct {
	desc     ocispec.Descriptor
	data     []byte
	children []child
	// referrer is the manifest as the referrers API lists it; nil for a
	// manifest without a subject, which no listing shows.
	referrer *ocispec.Descriptor
	subject  digest.Digest
}

// child is a descriptor a manifest names, as Include needs it.
type child struct {
	mediaType string
	digest    digest.Digest
	size      int64
}

type repository struct {
	members   map[digest.Digest]bool
	tags      map[string]digest.Digest
	tagNames  []string
	referrers map[digest.Digest][]ocispec.Descriptor
}

// NewContent returns an empty Content whose blobs come from blobs.
func NewContent(blobs BlobStore) *Content {
	return &Content{
		blobs:      blobs,
		manifests:  map[digest.Digest]*manifest{},
		sizes:      map[digest.Digest]int64{},
		mem:        map[digest.Digest]memBlob{},
		repos:      map[string]*repository{},
		mediaTypes: map[string]string{},
	}
}

// AddBlob adds a blob whose bytes are in hand (a small document built
// while placing the content), served from memory instead of the BlobStore.
// data must be exactly the content desc names.
func (c *Content) AddBlob(desc ocispec.Descriptor, data []byte) error {
	if err := bundle.VerifyBytes(data, desc); err != nil {
		return err
	}
	if size, ok := c.sizes[desc.Digest]; ok && size != desc.Size {
		return fmt.Errorf("blob %s has size %d here and %d elsewhere: %w", desc.Digest, desc.Size, size, errdef.ErrMalformed)
	}
	c.sizes[desc.Digest] = desc.Size
	c.mem[desc.Digest] = data
	return nil
}

// AddManifest adds a manifest or index that Include and AddReferrer can then
// place in repositories. data must be exactly the content desc names; the
// blobs it names must have one size each across every manifest added.
// Errors wrap errdef.ErrMalformed or errdef.ErrDigestMismatch.
func (c *Content) AddManifest(desc ocispec.Descriptor, data []byte) error {
	if !bundle.IsManifestMediaType(desc.MediaType) {
		return fmt.Errorf("%s: media type %q is not a manifest or index: %w", desc.Digest, desc.MediaType, errdef.ErrMalformed)
	}
	if err := bundle.VerifyBytes(data, desc); err != nil {
		return err
	}
	if _, ok := c.manifests[desc.Digest]; ok {
		return nil
	}
	descs, err := bundle.Children(desc, data)
	if err != nil {
		return err
	}
	children := make([]child, len(descs))
	for i, ch := range descs {
		children[i] = child{mediaType: c.mediaType(ch.MediaType), digest: ch.Digest, size: ch.Size}
		if bundle.IsManifestMediaType(ch.MediaType) {
			continue
		}
		if size, ok := c.sizes[ch.Digest]; ok && size != ch.Size {
			return fmt.Errorf("%s: blob %s has size %d here and %d elsewhere: %w", desc.Digest, ch.Digest, ch.Size, size, errdef.ErrMalformed)
		}
		c.sizes[ch.Digest] = ch.Size
	}
	ref, subject, err := referrerOf(desc, data)
	if err != nil {
		return err
	}
	plain := ocispec.Descriptor{MediaType: desc.MediaType, Digest: desc.Digest, Size: desc.Size}
	m := &manifest{desc: plain, data: data, children: children, subject: subject}
	if subject != "" {
		m.referrer = &ref
	}
	c.manifests[desc.Digest] = m
	return nil
}

// mediaType returns the one copy of mt that c holds.
func (c *Content) mediaType(mt string) string {
	if held, ok := c.mediaTypes[mt]; ok {
		return held
	}
	c.mediaTypes[mt] = mt
	return mt
}

// referrerOf describes a manifest as the referrers API lists it: its
// artifactType (for an image manifest without one, its config's media type)
// and annotations, and the subject it refers to, if any.
func referrerOf(desc ocispec.Descriptor, data []byte) (ocispec.Descriptor, digest.Digest, error) {
	var doc struct {
		ArtifactType string              `json:"artifactType"`
		Config       *ocispec.Descriptor `json:"config"`
		Subject      *ocispec.Descriptor `json:"subject"`
		Annotations  map[string]string   `json:"annotations"`
	}
	if err := json.Unmarshal(data, &doc); err != nil {
		return ocispec.Descriptor{}, "", fmt.Errorf("%s: %v: %w", desc.Digest, err, errdef.ErrMalformed)
	}
	at := doc.ArtifactType
	if at == "" && doc.Config != nil && !bundle.IsIndexMediaType(desc.MediaType) {
		at = doc.Config.MediaType
	}
	var subject digest.Digest
	if doc.Subject != nil {
		subject = doc.Subject.Digest
		if subject.Validate() != nil {
			return ocispec.Descriptor{}, "", fmt.Errorf("%s: subject digest %q is not valid: %w", desc.Digest, subject, errdef.ErrMalformed)
		}
	}
	return ocispec.Descriptor{
		MediaType: desc.MediaType, ArtifactType: at, Digest: desc.Digest, Size: desc.Size, Annotations: doc.Annotations,
	}, subject, nil
}

// Include places the manifest dg, and every manifest and blob below it, in
// repo, creating the repository. Every manifest below dg must have been
// added, with the media type and size its parent names. A manifest with a
// subject is listed among the referrers of that subject in repo, as a
// registry lists what was pushed to a repository.
func (c *Content) Include(repo string, dg digest.Digest) error {
	m, ok := c.manifests[dg]
	if !ok {
		return fmt.Errorf("%s: manifest not held: %w", dg, errdef.ErrMalformed)
	}
	r, err := c.repository(repo)
	if err != nil {
		return err
	}
	stack := []*manifest{m}
	for len(stack) > 0 {
		m := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		if r.members[m.desc.Digest] {
			continue
		}
		r.members[m.desc.Digest] = true
		if m.referrer != nil {
			r.referrers[m.subject] = append(r.referrers[m.subject], *m.referrer)
		}
		for _, ch := range m.children {
			if !bundle.IsManifestMediaType(ch.mediaType) {
				r.members[ch.digest] = true
				continue
			}
			cm, ok := c.manifests[ch.digest]
			if !ok {
				return fmt.Errorf("%s names manifest %s, which is not held: %w", m.desc.Digest, ch.digest, errdef.ErrMalformed)
			}
			if cm.desc.MediaType != ch.mediaType || cm.desc.Size != ch.size {
				return fmt.Errorf("%s names %s as %s of %d bytes; it is %s of %d bytes: %w",
					m.desc.Digest, ch.digest, ch.mediaType, ch.size, cm.desc.MediaType, cm.desc.Size, errdef.ErrMalformed)
			}
			stack = append(stack, cm)
		}
	}
	return nil
}

func (c *Content) repository(name string) (*repository, error) {
	if r, ok := c.repos[name]; ok {
		return r, nil
	}
	if !bundle.ValidRepository(name) {
		return nil, fmt.Errorf("repository %q is not a valid repository name: %w", name, errdef.ErrUsage)
	}
	r := &repository{
		members:   map[digest.Digest]bool{},
		tags:      map[string]digest.Digest{},
		referrers: map[digest.Digest][]ocispec.Descriptor{},
	}
	c.repos[name] = r
	i, _ := slices.BinarySearch(c.names, name)
	c.names = slices.Insert(c.names, i, name)
	return r, nil
}

// Tag points tag in repo at the manifest dg, which must already be in repo.
// A tag already pointing at another manifest is an error: two images of a
// bundle cannot claim one tag.
func (c *Content) Tag(repo, tag string, dg digest.Digest) error {
	r, ok := c.repos[repo]
	if !ok || !r.members[dg] || c.manifests[dg] == nil {
		return fmt.Errorf("tag %s:%s: manifest %s is not in the repository: %w", repo, tag, dg, errdef.ErrMalformed)
	}
	if !bundle.ValidTag(tag) {
		return fmt.Errorf("tag %q is not a valid tag: %w", tag, errdef.ErrMalformed)
	}
	if old, ok := r.tags[tag]; ok {
		if old != dg {
			return fmt.Errorf("tag %s:%s names both %s and %s: %w", repo, tag, old, dg, errdef.ErrMalformed)
		}
		return nil
	}
	r.tags[tag] = dg
	i, _ := slices.BinarySearch(r.tagNames, tag)
	r.tagNames = slices.Insert(r.tagNames, i, tag)
	return nil
}

// Repositories implements Source. The slice must not be modified.
func (c *Content) Repositories() []string { return c.names }

// Tags implements Source. The slice must not be modified.
func (c *Content) Tags(repo string) ([]string, bool) {
	r, ok := c.repos[repo]
	if !ok {
		return nil, false
	}
	return r.tagNames, true
}

// Resolve implements Source.
func (c *Content) Resolve(repo, tag string) (digest.Digest, bool) {
	r, ok := c.repos[repo]
	if !ok {
		return "", false
	}
	dg, ok := r.tags[tag]
	return dg, ok
}

// Manifest implements Source.
func (c *Content) Manifest(_ context.Context, repo string, dg digest.Digest) (ocispec.Descriptor, []byte, error) {
	m, ok := c.manifests[dg]
	if !ok || !c.holds(repo, dg) {
		return ocispec.Descriptor{}, nil, fmt.Errorf("manifest %s in %s: %w", dg, repo, errdef.ErrNotFound)
	}
	return m.desc, m.data, nil
}

// Blob implements Source. A manifest is served from memory; any other blob
// from the BlobStore, which must return the size the manifests name.
func (c *Content) Blob(ctx context.Context, repo string, dg digest.Digest) (Blob, error) {
	if !c.holds(repo, dg) {
		return nil, fmt.Errorf("blob %s in %s: %w", dg, repo, errdef.ErrNotFound)
	}
	if m, ok := c.manifests[dg]; ok {
		return bytesBlob{bytes.NewReader(m.data)}, nil
	}
	if data, ok := c.mem[dg]; ok {
		return bytesBlob{bytes.NewReader(data)}, nil
	}
	size := c.sizes[dg]
	b, err := c.blobs.OpenBlob(ctx, ocispec.Descriptor{MediaType: "application/octet-stream", Digest: dg, Size: size})
	if errors.Is(err, errdef.ErrNotFound) {
		// repo holds dg, verified before serving: the store lost it since,
		// which is the server's failure (logged, 500), as a served tar
		// written to is, not a blob never pushed (404, unlogged).
		return nil, fmt.Errorf("blob %s in %s: %v: the bundle changed under the server after it was opened and verified (replaced, or a file of it removed): restart to verify it again: %w",
			dg, repo, err, errdef.ErrDigestMismatch)
	}
	if err != nil {
		return nil, err
	}
	if b.Size() != size {
		b.Close()
		return nil, fmt.Errorf("blob %s: store has %d bytes, manifests say %d: %w", dg, b.Size(), size, errdef.ErrDigestMismatch)
	}
	return b, nil
}

// Referrers implements Source.
func (c *Content) Referrers(repo string, subject digest.Digest) []ocispec.Descriptor {
	r, ok := c.repos[repo]
	if !ok {
		return nil
	}
	return r.referrers[subject]
}

func (c *Content) holds(repo string, dg digest.Digest) bool {
	r, ok := c.repos[repo]
	return ok && r.members[dg]
}
