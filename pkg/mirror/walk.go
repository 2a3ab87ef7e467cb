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
}

// graphKey is a document as a descriptor names it: its children depend on
// the media type it is read as.
type graphKey struct {
	digest    digest.Digest
	mediaType string
}

type graphDoc struct {
	data     []byte
	children []ocispec.Descriptor
}

func newGraphReader(doc func(context.Context, ocispec.Descriptor) ([]byte, error), keepBytes bool) *graphReader {
	return &graphReader{doc: doc, keepBytes: keepBytes, docs: map[graphKey]graphDoc{}}
}

// newGraphWalker returns a graphReader that keeps nothing: for one walk,
// which reads each document once anyway.
func newGraphWalker(doc func(context.Context, ocispec.Descriptor) ([]byte, error)) *graphReader {
	return &graphReader{doc: doc}
}

// read returns d's children and, with keepBytes, its verified bytes.
func (g *graphReader) read(ctx context.Context, d ocispec.Descriptor) ([]byte, []ocispec.Descriptor, error) {
	key := graphKey{d.Digest, d.MediaType}
	if doc, ok := g.docs[key]; ok {
		return doc.data, doc.children, nil
	}
	data, err := g.doc(ctx, d)
	if err != nil {
		return nil, nil, err
	}
	children, err := bundle.Children(d, data)
	if err != nil {
		return nil, nil, err
	}
	if !g.keepBytes {
		data = nil
	}
	if g.docs != nil {
		g.docs[key] = graphDoc{data, children}
	}
	return data, children, nil
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
		data, children, err := g.read(ctx, d)
		if err != nil {
			return err
		}
		for _, c := range children {
			if err := walk(c, depth+1); err != nil {
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
