package transfer

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"

	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	"oras.land/oras-go/v2/content"

	"github.com/stellaops/mirror/internal/errgroup"
	"github.com/stellaops/mirror/pkg/bundle"
	"github.com/stellaops/mirror/pkg/errdef"
)

// Node is a manifest or index with its verified bytes.
type Node struct {
	Descriptor ocispec.Descriptor
	Bytes      []byte
	// Children are the descriptors the document points to (see bundle.Children).
	Children []ocispec.Descriptor
}

// Graph is the content below one or more roots: every manifest and index,
// fetched and verified, and every other blob, named by descriptor. Each
// digest appears once.
type Graph struct {
	// Nodes are the manifests and indexes in pre-order (parents first).
	Nodes []Node
	// Blobs are the non-manifest blobs (configs, layers) in first-seen order.
	Blobs []ocispec.Descriptor
	// Skipped are the referrers WalkReferrers was given but did not
	// carry: their media type is no image manifest or index (the OCI
	// artifact manifest that image-spec 1.1 withdrew, say), or a registry
	// or a bundle's reader would refuse them (Referrer.Refused says why).
	// The caller says so.
	Skipped []Referrer
	// Fetch, if set, reads each manifest or index of the walk in place of
	// FetchBytes (which it calls for what it does not hold already): a
	// caller's graphs can so share one copy of a document they all hold,
	// and be bounded together, a document refused (an error, which ends
	// the walk) before it is read.
	Fetch func(ctx context.Context, src content.Fetcher, desc ocispec.Descriptor) ([]byte, error)
	// Fetches bounds the documents one Walk fetches at once: the
	// children of an index (its platforms' manifests) are asked for
	// together, so that a walk costs a round trip a level of nesting,
	// not one a document. Zero means DefaultWalkFetches.
	Fetches int

	seen  map[digest.Digest]bool
	nodes map[digest.Digest]int
}

// NewGraph returns an empty graph.
func NewGraph() *Graph {
	return &Graph{seen: map[digest.Digest]bool{}, nodes: map[digest.Digest]int{}}
}

// Has reports whether dg is already in the graph.
func (g *Graph) Has(dg digest.Digest) bool {
	if g.seen == nil { // sealed
		_, ok := g.Node(dg)
		return ok || slices.ContainsFunc(g.Blobs, func(b ocispec.Descriptor) bool { return b.Digest == dg })
	}
	return g.seen[dg]
}

// Node returns the node for dg, if it is a manifest in the graph.
func (g *Graph) Node(dg digest.Digest) (Node, bool) {
	if g.nodes == nil { // sealed
		if i := slices.IndexFunc(g.Nodes, func(n Node) bool { return n.Descriptor.Digest == dg }); i >= 0 {
			return g.Nodes[i], true
		}
		return Node{}, false
	}
	i, ok := g.nodes[dg]
	if !ok {
		return Node{}, false
	}
	return g.Nodes[i], true
}

// Seal drops the lookups the graph keeps for its walks: a graph held long
// after them (create holds every image's, thousands, until it writes
// manifest.json) then holds its nodes and blobs only. Has and Node still
// answer, by a scan of a graph's few nodes; a walk after Seal makes the
// lookups again.
func (g *Graph) Seal() { g.seen, g.nodes = nil, nil }

// unseal makes the lookups again after Seal, for a walk.
func (g *Graph) unseal() {
	if g.seen != nil {
		return
	}
	g.seen, g.nodes = map[digest.Digest]bool{}, map[digest.Digest]int{}
	for i, n := range g.Nodes {
		g.seen[n.Descriptor.Digest] = true
		g.nodes[n.Descriptor.Digest] = i
	}
	for _, b := range g.Blobs {
		g.seen[b.Digest] = true
	}
}

// Walk fetches root and every manifest and index below it from src and adds
// them to the graph, with the non-manifest blobs they name. Each document is
// verified against its descriptor and bounded by bundle.MaxManifestSize;
// nesting deeper than bundle.MaxDepth is refused (errdef.ErrMalformed).
// Depth counts from the bundle root that will list root, one level up, as
// every reader of a bundle (verify, import, pull) counts it: a graph that
// passes here passes there.
func (g *Graph) Walk(ctx context.Context, src content.Fetcher, root ocispec.Descriptor) error {
	return g.walk(ctx, src, root, rootDepth, nil)
}

// rootDepth is the depth of a walked root: a child of the bundle root.
const rootDepth = 1

// DefaultWalkFetches is how many documents a Walk fetches at once unless
// Graph.Fetches says otherwise: the platforms of a common multi-platform
// index in one round trip, while a create resolving several images at once
// multiplies it by their number.
const DefaultWalkFetches = 8

// walk adds desc and everything below it. The documents are fetched first,
// a level of nesting at a time, each level's together (prefetch), unless
// ahead holds desc's already; the walk proper then goes depth first over
// what was fetched, as it would over src, so that the graph's order, and
// the error a walk returns, do not depend on which answer came first.
func (g *Graph) walk(ctx context.Context, src content.Fetcher, desc ocispec.Descriptor, depth int, ahead map[digest.Digest]Fetched) error {
	g.unseal()
	if _, ok := ahead[desc.Digest]; !ok && !g.seen[desc.Digest] && bundle.IsManifestMediaType(desc.MediaType) {
		if ahead == nil {
			ahead = map[digest.Digest]Fetched{}
		}
		for dg, f := range g.prefetch(ctx, src, []ocispec.Descriptor{desc}, depth) {
			if _, ok := ahead[dg]; !ok {
				ahead[dg] = f
			}
		}
	}
	return g.add(ctx, src, desc, desc.Digest, depth, ahead)
}

// Fetched is a document fetched ahead of the walk that reads it, or the
// error its fetch gave.
type Fetched struct {
	Data []byte
	Err  error
}

// FetchLevels fetches roots and every manifest and index below them, a
// level of nesting at a time, each level's documents at once (at most
// limit in flight), through fetch; skip, if set, leaves a document, and
// what is below it, out. depth is the roots' nesting depth, counted as
// Walk counts it: nothing deeper than bundle.MaxDepth is fetched. After a
// level where a fetch failed, or a document's children could not be read,
// it fetches no deeper: the walk that meets the failure reports it, in its
// own order, and fetches for itself what was not fetched here. It returns
// each document's fetch by digest. A walk of N documents in L levels so
// costs L round trips, not N.
func FetchLevels(ctx context.Context, roots []ocispec.Descriptor, depth, limit int, skip func(digest.Digest) bool,
	fetch func(context.Context, ocispec.Descriptor) ([]byte, error)) map[digest.Digest]Fetched {
	out := map[digest.Digest]Fetched{}
	queued := map[digest.Digest]bool{}
	var level []ocispec.Descriptor
	add := func(d ocispec.Descriptor) {
		if bundle.IsManifestMediaType(d.MediaType) && !queued[d.Digest] && (skip == nil || !skip(d.Digest)) {
			queued[d.Digest] = true
			level = append(level, d)
		}
	}
	for _, r := range roots {
		add(r)
	}
	for ; len(level) > 0 && depth <= bundle.MaxDepth; depth++ {
		got := make([]Fetched, len(level))
		var eg errgroup.Group
		eg.SetLimit(max(limit, 1))
		for i, desc := range level {
			eg.Go(func() error {
				defer errdef.Recover(&got[i].Err) // not the process's end
				got[i].Data, got[i].Err = fetch(ctx, desc)
				return nil // kept for the walk, which reports it in its order
			})
		}
		_ = eg.Wait()
		this := level
		level = nil
		failed := false
		for i, desc := range this {
			out[desc.Digest] = got[i]
			if got[i].Err != nil {
				failed = true
				continue
			}
			children, err := bundle.Children(desc, got[i].Data)
			if err != nil {
				failed = true
				continue
			}
			for _, c := range children {
				add(c)
			}
		}
		if failed {
			break
		}
	}
	return out
}

// prefetch is FetchLevels of roots through the graph's fetch (a caller's
// budget is asked before each document, as the walk would), leaving out
// what the graph holds.
func (g *Graph) prefetch(ctx context.Context, src content.Fetcher, roots []ocispec.Descriptor, depth int) map[digest.Digest]Fetched {
	fetch := g.fetcher()
	return FetchLevels(ctx, roots, depth, g.fetches(), func(dg digest.Digest) bool { return g.seen[dg] },
		func(ctx context.Context, desc ocispec.Descriptor) ([]byte, error) { return fetch(ctx, src, desc) })
}

func (g *Graph) fetches() int {
	if g.Fetches > 0 {
		return g.Fetches
	}
	return DefaultWalkFetches
}

func (g *Graph) fetcher() func(ctx context.Context, src content.Fetcher, desc ocispec.Descriptor) ([]byte, error) {
	if g.Fetch != nil {
		return g.Fetch
	}
	return FetchBytes
}

// add adds desc and everything below it, depth first, taking each
// document from ahead (what prefetch fetched), else from src. top is the
// document the walk began at, at rootDepth, which a refusal of nesting
// names.
func (g *Graph) add(ctx context.Context, src content.Fetcher, desc ocispec.Descriptor, top digest.Digest, depth int, ahead map[digest.Digest]Fetched) error {
	if g.seen[desc.Digest] {
		return nil
	}
	if !bundle.IsManifestMediaType(desc.MediaType) {
		g.seen[desc.Digest] = true
		g.Blobs = append(g.Blobs, plain(desc))
		return nil
	}
	if depth > bundle.MaxDepth {
		return bundle.NestTooDeep(desc, depth-rootDepth, top)
	}
	f, ok := ahead[desc.Digest]
	if ok {
		// Taken once: a document the graph then holds is not asked for
		// again, and its bytes are the node's.
		delete(ahead, desc.Digest)
	} else {
		f.Data, f.Err = g.fetcher()(ctx, src, desc)
	}
	data, err := f.Data, f.Err
	if err != nil {
		return err
	}
	children, err := bundle.Children(desc, data)
	if err != nil {
		// An entry refused names itself (a *bundle.EntryError, which
		// PinnedOnce rewrites); any other refusal is of the document.
		if entry := (*bundle.EntryError)(nil); !errors.As(err, &entry) {
			err = &DocumentError{Digest: desc.Digest, Err: err}
		}
		return err
	}
	g.seen[desc.Digest] = true
	g.nodes[desc.Digest] = len(g.Nodes)
	g.Nodes = append(g.Nodes, Node{Descriptor: plain(desc), Bytes: data, Children: children})
	for _, c := range children {
		if err := g.add(ctx, src, c, top, depth+1, ahead); err != nil {
			return err
		}
	}
	return nil
}

// Add adds a document already in hand (for instance one we built) without
// fetching it; its children are walked from src.
func (g *Graph) Add(ctx context.Context, src content.Fetcher, doc bundle.Document) error {
	return g.walk(ctx, bytesFetcher{doc, src}, doc.Descriptor, rootDepth, nil)
}

// FetchBytes fetches and verifies a manifest-sized document. Its errors
// say what was fetched, "manifest sha256:…: …" of a manifest or index,
// "blob sha256:…: …" of anything else (a config, an envelope).
func FetchBytes(ctx context.Context, src content.Fetcher, desc ocispec.Descriptor) ([]byte, error) {
	if desc.Size > bundle.MaxManifestSize || desc.Size < 0 {
		return nil, fmt.Errorf("%s: size %d exceeds the %d byte limit for manifests: %w", desc.Digest, desc.Size, bundle.MaxManifestSize, errdef.ErrMalformed)
	}
	rc, err := src.Fetch(ctx, desc)
	if err != nil {
		return nil, fetchError(desc, err)
	}
	defer rc.Close()
	data, err := bundle.ReadAll(rc, desc, bundle.MaxManifestSize)
	if err != nil {
		return nil, fetchError(desc, err)
	}
	return data, nil
}

// fetchError says err is of the fetch of desc, a manifest or a blob,
// naming its digest once: oras-go's "sha256:…: not found" and a content
// error, "sha256:…: content hashes to …", start with it already.
func fetchError(desc ocispec.Descriptor, err error) error {
	what := "blob"
	if bundle.IsManifestMediaType(desc.MediaType) {
		what = "manifest"
	}
	if startsWith(err, desc.Digest) {
		return fmt.Errorf("%s %w", what, err)
	}
	return fmt.Errorf("%s %s: %w", what, desc.Digest, err)
}

// startsWith says whether err's message starts by naming dg ("sha256:…: ").
func startsWith(err error, dg digest.Digest) bool {
	return strings.HasPrefix(err.Error(), dg.String()+": ")
}

// plain strips a descriptor to what identifies content: media type, digest,
// size (and artifactType), without annotations or platform.
func plain(d ocispec.Descriptor) ocispec.Descriptor {
	return ocispec.Descriptor{MediaType: d.MediaType, ArtifactType: d.ArtifactType, Digest: d.Digest, Size: d.Size}
}

// bytesFetcher serves one document from memory and everything else from src.
type bytesFetcher struct {
	doc bundle.Document
	src content.Fetcher
}

func (b bytesFetcher) Fetch(ctx context.Context, desc ocispec.Descriptor) (io.ReadCloser, error) {
	if desc.Digest == b.doc.Descriptor.Digest {
		return io.NopCloser(bytes.NewReader(b.doc.Bytes)), nil
	}
	return b.src.Fetch(ctx, desc)
}
