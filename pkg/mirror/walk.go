package mirror

import (
	"context"
	"fmt"

	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/stellaops/mirror/pkg/bundle"
	"github.com/stellaops/mirror/pkg/errdef"
)

// graphReader reads the manifests and indexes of a bundle's graph through
// doc, and keeps each one's children once read: walks from many images over
// an index they share (the same image under several names, or a hostile
// bundle's thousands of images over one 4 MiB index) read and parse it
// once, not once a walk. With keepBytes it keeps the documents' bytes too
// and hands them to the walk (placement keeps them anyway); without, it
// hands none, and holds no more than the descriptors.
type graphReader struct {
	doc       func(context.Context, ocispec.Descriptor) ([]byte, error)
	keepBytes bool
	docs      map[graphKey]graphDoc
	// types interns the children's media and artifact types: the few a
	// bundle uses, each held once, not once a descriptor.
	types map[string]string
}

// graphKey is a document as a descriptor names it: its children depend on
// the media type it is read as.
type graphKey struct {
	digest    digest.Digest
	mediaType string
}

type graphDoc struct {
	data     []byte
	children []graphChild
}

// graphChild is a child as the walks use it, and as a graphReader keeps it
// until it goes: 56 bytes, where a descriptor is 120 and the whole ones of
// every document of a bundle (annotations, platforms, each string one of
// its own), kept through its planning, made the peak of import and serve
// (9 MB at 3000 images).
type graphChild struct {
	mediaType, artifactType string
	digest                  digest.Digest
	size                    int64
}

func newGraphReader(doc func(context.Context, ocispec.Descriptor) ([]byte, error), keepBytes bool) *graphReader {
	return &graphReader{doc: doc, keepBytes: keepBytes, docs: map[graphKey]graphDoc{}, types: map[string]string{}}
}

// newGraphWalker returns a graphReader that keeps nothing: for one walk,
// which reads each document once anyway.
func newGraphWalker(doc func(context.Context, ocispec.Descriptor) ([]byte, error)) *graphReader {
	return &graphReader{doc: doc}
}

// read returns d's verified bytes if g keeps them (the walks' children are
// visitGraph's).
func (g *graphReader) read(ctx context.Context, d ocispec.Descriptor) ([]byte, error) {
	data, _, _, err := g.readChildren(ctx, d)
	return data, err
}

// readChildren returns d's children, as the document has them when it is
// read (children) or as kept once read (kept): one of the two is set. With
// keepBytes it also returns its verified bytes.
func (g *graphReader) readChildren(ctx context.Context, d ocispec.Descriptor) (data []byte, children []ocispec.Descriptor, kept []graphChild, err error) {
	key := graphKey{d.Digest, d.MediaType}
	if doc, ok := g.docs[key]; ok {
		return doc.data, nil, doc.children, nil
	}
	data, err = g.doc(ctx, d)
	if err != nil {
		return nil, nil, nil, err
	}
	children, err = bundle.Children(d, data)
	if err != nil {
		return nil, nil, nil, err
	}
	if !g.keepBytes {
		data = nil
	}
	if g.docs != nil {
		kept := make([]graphChild, len(children))
		for i := range children {
			// Interned in place too: the walk's callers keep them (a
			// placement, a descriptor for each blob).
			c := &children[i]
			c.MediaType, c.ArtifactType = g.intern(c.MediaType), g.intern(c.ArtifactType)
			kept[i] = graphChild{c.MediaType, c.ArtifactType, c.Digest, c.Size}
		}
		g.docs[key] = graphDoc{data, kept}
	}
	return data, children, nil, nil
}

func (g *graphReader) intern(s string) string {
	if s == "" {
		return ""
	}
	if t, ok := g.types[s]; ok {
		return t
	}
	g.types[s] = s
	return s
}

// visitGraph visits desc and everything below it once each, children
// before their parent: blob for every non-manifest blob, manifest (with its
// verified bytes if g keeps them) for every manifest and index. Indexes nesting
// deeper than bundle.MaxDepth are refused.
func visitGraph(ctx context.Context, desc ocispec.Descriptor, g *graphReader,
	blob func(ocispec.Descriptor), manifest func(ocispec.Descriptor, []byte)) error {
	seen := map[digest.Digest]bool{}
	var walk func(d ocispec.Descriptor, depth int) error
	walk = func(d ocispec.Descriptor, depth int) error {
		if seen[d.Digest] {
			return nil
		}
		seen[d.Digest] = true
		if !bundle.IsManifestMediaType(d.MediaType) {
			blob(d)
			return nil
		}
		if depth > bundle.MaxDepth {
			return fmt.Errorf("%s: indexes nest deeper than %d: %w", d.Digest, bundle.MaxDepth, errdef.ErrMalformed)
		}
		data, children, kept, err := g.readChildren(ctx, d)
		if err != nil {
			return err
		}
		for _, c := range children {
			if err := walk(c, depth+1); err != nil {
				return err
			}
		}
		for _, c := range kept {
			if err := walk(ocispec.Descriptor{MediaType: c.mediaType, ArtifactType: c.artifactType, Digest: c.digest, Size: c.size}, depth+1); err != nil {
				return err
			}
		}
		if manifest != nil {
			manifest(d, data)
		}
		return nil
	}
	return walk(desc, 0)
}
