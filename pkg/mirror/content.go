package mirror

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync"

	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/stellaops/mirror/internal/errgroup"
	"github.com/stellaops/mirror/pkg/bundle"
	"github.com/stellaops/mirror/pkg/errdef"
	"github.com/stellaops/mirror/pkg/layout"
)

// ContentResult counts what a deep walk of a bundle directory verified.
type ContentResult struct {
	// Manifests, Blobs and Bytes count the unique content reachable from
	// the root and the signature referrer, each read and hashed once.
	Manifests int   `json:"manifests"`
	Blobs     int   `json:"blobs"`
	Bytes     int64 `json:"bytes"`
	// Files counts the files of the human view (advisories/, scripts/,
	// docs/) checked against manifest.json.
	Files int `json:"files"`
	// Omitted counts the blobs of a delta bundle that its base holds and
	// it does not carry: not read here, they are checked on import,
	// against the target.
	Omitted int `json:"omitted,omitempty"`
}

// hashBuffers are the copy buffers of the parallel hashing; one per worker
// at a time keeps memory at concurrency × 256 KiB.
var hashBuffers = sync.Pool{New: func() any { b := make([]byte, 256<<10); return &b }}

// verifyContent is the deep walk of a bundle directory: the structure
// (root against manifest.json, metadata manifest), index.json (nothing but
// the root, the images and the signature referrer), every manifest, config
// and layer reachable from them present and hashing to its digest and
// size, every file of the human view as manifest.json names it, and no
// blob that nothing reaches. Each blob is read once; concurrency bounds the
// parallel hashing. Mismatches and missing content wrap
// errdef.ErrDigestMismatch, a wrong shape errdef.ErrMalformed.
func verifyContent(ctx context.Context, dir *layout.Dir, md *metadata, concurrency int) (*ContentResult, error) {
	res, _, err := walkContent(ctx, dir, md, concurrency, false)
	return res, err
}

// walkContent is verifyContent. With signing, the bundle's current
// signature (manifest.dsse, its referrer) is left out, as signing replaces
// it, and blobs nothing reaches are not refused but returned left out of
// the reached set, so that signing can remove them: a signing run that was
// interrupted can always be run again.
func walkContent(ctx context.Context, dir *layout.Dir, md *metadata, concurrency int, signing bool) (*ContentResult, map[digest.Digest]bool, error) {
	if err := md.checkStructure(ctx); err != nil {
		return nil, nil, err
	}
	referrers, err := md.checkIndex(ctx, signing)
	if err != nil {
		return nil, nil, err
	}
	graph, err := walkGraph(ctx, md, referrers)
	if err != nil {
		return nil, nil, err
	}
	res, blobs, reached := &ContentResult{Manifests: graph.manifests}, graph.blobs, graph.reached
	if err := checkNoStrayFiles(dir, md.Manifest); err != nil {
		return nil, nil, err
	}
	if !signing {
		if err := checkNoStrayBlobs(ctx, dir, reached); err != nil {
			return nil, nil, err
		}
	}
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(concurrency)
	// A delta bundle does not carry what its base holds: those blobs and
	// their human-view files are checked on import, against the target,
	// and counted apart, not as checked.
	omitted := md.Manifest.OmittedSet()
	for _, b := range blobs {
		if omitted[b.Digest] {
			res.Omitted++
			continue
		}
		res.Blobs++
		res.Bytes += b.Size
		if _, late := dir.External(b.Digest); late {
			continue
		}
		g.Go(func() error {
			rc, err := dir.Fetch(gctx, b)
			if err != nil {
				return missingIsMismatch(err)
			}
			defer rc.Close()
			if err := drain(gctx, rc, ""); err != nil {
				return aboutDigest("blob", b.Digest, err)
			}
			return nil
		})
	}
	m := md.Manifest
	for _, f := range m.HumanView() {
		if omitted[f.Digest] {
			continue
		}
		res.Files++
		g.Go(func() error {
			rc, err := dir.Open(f.Path)
			if err != nil {
				return missingIsMismatch(err)
			}
			defer rc.Close()
			return drain(gctx, bundle.NewVerifyReader(rc, ocispec.Descriptor{Digest: f.Digest, Size: f.Size}), f.Path)
		})
	}
	if err := g.Wait(); err != nil {
		return nil, nil, err
	}
	return res, reached, nil
}

// bundleGraph is what a bundle's root and signature referrer reach.
type bundleGraph struct {
	manifests int
	// blobs are the non-manifest blobs, each once.
	blobs []ocispec.Descriptor
	// reached holds every digest reached, manifests included.
	reached map[digest.Digest]bool
}

// walkGraph walks the bundle from its root and referrers breadth-first,
// reading each manifest once through md.Doc (which verifies it): indexes
// nest at most bundle.MaxDepth deep below the root, as import's placement
// allows, and descriptors of one digest must agree on its size.
func walkGraph(ctx context.Context, md *metadata, referrers []ocispec.Descriptor) (*bundleGraph, error) {
	g := &bundleGraph{reached: map[digest.Digest]bool{}}
	// The size each digest was first met with: all a later descriptor of
	// it is checked against (a whole descriptor was held for each, some
	// twelve an image, a few MiB for the largest bundle).
	seen := map[digest.Digest]int64{}
	type node struct {
		desc  ocispec.Descriptor
		depth int
	}
	var queue []node
	for _, d := range append([]ocispec.Descriptor{md.RootDesc}, referrers...) {
		queue = append(queue, node{d, 0})
	}
	for len(queue) > 0 {
		desc, depth := queue[0].desc, queue[0].depth
		queue = queue[1:]
		if prev, ok := seen[desc.Digest]; ok {
			if prev != desc.Size {
				return nil, fmt.Errorf("%s: descriptors disagree on its size (%d, %d): %w", desc.Digest, prev, desc.Size, errdef.ErrDigestMismatch)
			}
			continue
		}
		if len(seen) >= layout.MaxHeadFiles*4 {
			return nil, fmt.Errorf("bundle graph: more than %d nodes: %w", layout.MaxHeadFiles*4, errdef.ErrMalformed)
		}
		seen[desc.Digest] = desc.Size
		g.reached[desc.Digest] = true
		if !bundle.IsManifestMediaType(desc.MediaType) {
			g.blobs = append(g.blobs, desc)
			continue
		}
		if depth > bundle.MaxDepth {
			return nil, fmt.Errorf("%s: indexes nest deeper than %d: %w", desc.Digest, bundle.MaxDepth, errdef.ErrMalformed)
		}
		data, err := md.Doc(ctx, desc)
		if err != nil {
			return nil, missingIsMismatch(err)
		}
		g.manifests++
		children, err := bundle.Children(desc, data)
		if err != nil {
			return nil, err
		}
		for _, c := range children {
			queue = append(queue, node{c, depth + 1})
		}
	}
	return g, nil
}

// drain reads r to its end; r verifies what it passes. An error is
// prefixed with name, unless name is "" (the caller names it).
func drain(ctx context.Context, r io.Reader, name string) error {
	if _, err := copyBuffered(ctx, io.Discard, r); err != nil {
		if name == "" {
			return err
		}
		return fmt.Errorf("%s: %w", name, err)
	}
	return nil
}

// copyBuffered copies r to w with a pooled buffer, stopping when ctx is
// done.
func copyBuffered(ctx context.Context, w io.Writer, r io.Reader) (int64, error) {
	bufp := hashBuffers.Get().(*[]byte)
	defer hashBuffers.Put(bufp)
	// Only Write of w: io.Discard's ReadFrom would read with its own 8 KiB
	// buffer (a hundred thousand reads for 800 MiB) instead of this one.
	return io.CopyBuffer(struct{ io.Writer }{w}, layout.ContextReader(ctx, r), *bufp)
}

// missingIsMismatch reports content that manifest.json names but the
// directory lacks as a digest mismatch (exit 2): the bundle does not hold
// what was signed.
func missingIsMismatch(err error) error {
	if errors.Is(err, errdef.ErrNotFound) {
		return fmt.Errorf("%w (%w)", err, errdef.ErrDigestMismatch)
	}
	return err
}

// checkNoStrayFiles refuses a file outside blobs/sha256 that is neither a
// head file nor named by manifest.json (a script planted in scripts/, say):
// SHA256SUMS lists every file, so signing would vouch for it, and an
// archive holding it is refused on import. Blobs are checkNoStrayBlobs' (or,
// when signing, removeUnreached's).
func checkNoStrayFiles(dir *layout.Dir, m *bundle.Manifest) error {
	named := map[string]bool{}
	depth := walkMinDepth // as verify-checksums, which names each file to that depth
	for _, f := range m.HumanView() {
		named[f.Path] = true
		depth = max(depth, strings.Count(f.Path, "/"))
	}
	depth = min(depth, walkMaxDepth)
	// A directory at a time in batches (walkBounded), not whole as
	// filepath.WalkDir reads it: a stray directory of a million files was
	// read whole (190 MiB) before its first file was refused.
	return walkBounded(dir.Path(), "", func(rel string, e fs.DirEntry) error {
		p := filepath.Join(dir.Path(), filepath.FromSlash(rel))
		switch {
		case e.Type()&fs.ModeSymlink != 0:
			return fmt.Errorf("%s: is %s: %w", p, layout.FileKind(fs.ModeSymlink), errdef.ErrMalformed)
		case layout.IsHeadFile(rel), named[rel]:
			return nil
		case layout.IsTemporary(rel):
			return fmt.Errorf("%s: %s: %w", p, signLeftover, errdef.ErrMalformed)
		}
		if err := clutterError(p, rel, dir.Path()); err != nil {
			return err
		}
		return fmt.Errorf("%s: not part of the bundle (manifest.json does not name it): %w", p, errdef.ErrMalformed)
	}, func(rel string) (bool, error) {
		switch {
		case rel == layout.BlobsDir+"/sha256":
			return false, nil
		case strings.Count(rel, "/") < depth:
			return true, nil
		}
		// Past walkMinDepth levels and deeper than any file named: only
		// stray files are there. It is not entered (a hostile depth held a descriptor a level, "too many
		// open files"), but refused if it holds anything.
		p := filepath.Join(dir.Path(), filepath.FromSlash(rel))
		f, err := os.Open(p)
		if err != nil {
			return false, err
		}
		defer f.Close()
		if _, err := f.ReadDir(1); err == nil {
			return false, fmt.Errorf("%s: not part of the bundle (a directory deeper than any file manifest.json names): %w", p, errdef.ErrMalformed)
		} else if !errors.Is(err, io.EOF) {
			return false, err
		}
		return false, nil
	})
}

// errEnoughStray ends the reading of blobs/sha256 past maxUnreachedBlobs
// blobs nothing reaches: more than sign removes, so more than signs
// killed before their end leave.
var errEnoughStray = errors.New("more blobs nothing reaches than sign removes")

// maxSignatureManifestSize bounds the stray blobs read to learn whether
// they are a signature manifest (a few hundred bytes) a sign wrote.
const maxSignatureManifestSize = 64 << 10

// signLeftover is what a bundle directory's refusal says of what a sign
// killed before its end leaves: its temporary files, the blobs of its new
// signature before index.json names them. sign removes them.
const signLeftover = "left by a sign that did not finish (killed): run sign again, which removes it"

// checkNoStrayBlobs refuses a blob that nothing in the bundle reaches: it
// would travel (and be packed) unverified. Where a sign did not finish,
// that is said instead, with its advice to run sign again: killed while
// it removed the old signature's blobs (checkSigningFinished), or before
// index.json named the new one's, which are then all the blobs nothing
// reaches (signBlobs), or a temporary file of its.
func checkNoStrayBlobs(ctx context.Context, dir *layout.Dir, reached map[digest.Digest]bool) error {
	// A batch of entries at a time (ReadDirEach), and no more strays kept
	// than sign removes (each sign killed before its end leaves two or
	// three): blobs/sha256 of a million files was read whole (170 MiB)
	// before its first was refused.
	var stray []string
	err := dir.ReadDirEach(layout.BlobsDir+"/sha256", func(e fs.DirEntry) error {
		if !reached[digest.NewDigestFromEncoded(digest.SHA256, e.Name())] {
			rel := layout.BlobsDir + "/sha256/" + e.Name()
			// A directory, symlink or device is no blob a sign left, nor
			// any blob: named as what it is.
			if err := nonBlobError(filepath.Join(dir.Path(), filepath.FromSlash(rel)), e.Type()); err != nil {
				return err
			}
			if stray = append(stray, rel); len(stray) > maxUnreachedBlobs {
				return errEnoughStray
			}
		}
		return nil
	})
	if errors.Is(err, errdef.ErrNotFound) {
		return nil
	}
	if err != nil && !errors.Is(err, errEnoughStray) {
		return err
	}
	if len(stray) == 0 {
		return nil
	}
	for _, rel := range stray {
		if err := clutterError(rel, rel, dir.Path()); err != nil {
			return err
		}
	}
	if err := checkSigningFinished(ctx, dir); err != nil {
		return err
	}
	if signBlobs(dir, stray, reached) {
		return fmt.Errorf("%s: no manifest of the bundle reaches it: %s: %w", stray[0], signLeftover, errdef.ErrMalformed)
	}
	return fmt.Errorf("%s: no manifest of the bundle reaches it: %w", stray[0], errdef.ErrMalformed)
}

// signBlobs says whether the blobs stray (paths in dir), which nothing of
// the bundle reaches, are all what a sign writes before index.json names
// them, or its temporary files: signature manifests (artifactType DSSE)
// whose subject the bundle holds and the blobs they name, of one or more
// signs killed, no more than sign removes (maxUnreachedBlobs).
func signBlobs(dir *layout.Dir, stray []string, reached map[digest.Digest]bool) bool {
	if len(stray) > maxUnreachedBlobs {
		return false
	}
	named := map[string]bool{}
	for _, p := range stray {
		if layout.IsTemporary(p) {
			named[p] = true
			continue
		}
		if st, err := os.Lstat(filepath.Join(dir.Path(), filepath.FromSlash(p))); err != nil || st.Size() > maxSignatureManifestSize {
			continue // named by a signature manifest, or not a sign's
		}
		data, err := dir.ReadFile(p)
		if err != nil {
			continue
		}
		var m ocispec.Manifest
		if json.Unmarshal(data, &m) != nil || m.ArtifactType != bundle.ArtifactTypeDSSE || m.Subject == nil || !reached[m.Subject.Digest] {
			continue
		}
		named[p] = true
		for _, d := range append([]ocispec.Descriptor{m.Config}, m.Layers...) {
			if d.Digest.Validate() != nil {
				return false
			}
			named[layout.BlobsDir+"/sha256/"+d.Digest.Encoded()] = true
		}
	}
	for _, p := range stray {
		if !named[p] {
			return false
		}
	}
	return true
}
