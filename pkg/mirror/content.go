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
	"sync"

	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	"golang.org/x/sync/errgroup"

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
	referrers, err := checkLayoutIndex(ctx, dir, md, signing)
	if err != nil {
		return nil, nil, err
	}
	res := &ContentResult{}
	seen := map[digest.Digest]ocispec.Descriptor{}
	var blobs []ocispec.Descriptor
	queue := append([]ocispec.Descriptor{md.RootDesc}, referrers...)
	for len(queue) > 0 {
		desc := queue[0]
		queue = queue[1:]
		if prev, ok := seen[desc.Digest]; ok {
			if prev.Size != desc.Size {
				return nil, nil, fmt.Errorf("%s: descriptors disagree on its size (%d, %d): %w", desc.Digest, prev.Size, desc.Size, errdef.ErrDigestMismatch)
			}
			continue
		}
		if len(seen) >= layout.MaxHeadFiles*4 {
			return nil, nil, fmt.Errorf("bundle graph: more than %d nodes: %w", layout.MaxHeadFiles*4, errdef.ErrMalformed)
		}
		seen[desc.Digest] = desc
		if !bundle.IsManifestMediaType(desc.MediaType) {
			blobs = append(blobs, desc)
			continue
		}
		data, err := dir.FetchBytes(ctx, desc)
		if err != nil {
			return nil, nil, missingIsMismatch(err)
		}
		res.Manifests++
		children, err := bundle.Children(desc, data)
		if err != nil {
			return nil, nil, err
		}
		queue = append(queue, children...)
	}
	reached := map[digest.Digest]bool{}
	for dg := range seen {
		reached[dg] = true
	}
	if !signing {
		if err := checkNoStrayBlobs(dir, reached); err != nil {
			return nil, nil, err
		}
	}
	for _, b := range blobs {
		res.Bytes += b.Size
	}
	res.Blobs = len(blobs)
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(concurrency)
	// A delta bundle does not carry what its base holds: those blobs and
	// their human-view files are checked on import, against the target.
	omitted := md.Manifest.OmittedSet()
	for _, b := range blobs {
		if _, late := dir.External(b.Digest); omitted[b.Digest] || late {
			continue
		}
		g.Go(func() error {
			rc, err := dir.Fetch(gctx, b)
			if err != nil {
				return missingIsMismatch(err)
			}
			defer rc.Close()
			return drain(gctx, rc, "blob "+b.Digest.String())
		})
	}
	m := md.Manifest
	for _, f := range append(append([]bundle.File{}, m.Advisories...), m.Files...) {
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

// drain reads r to its end; r verifies what it passes.
func drain(ctx context.Context, r io.Reader, name string) error {
	if _, err := copyBuffered(ctx, io.Discard, r); err != nil {
		return fmt.Errorf("%s: %w", name, err)
	}
	return nil
}

// copyBuffered copies r to w with a pooled buffer, stopping when ctx is
// done.
func copyBuffered(ctx context.Context, w io.Writer, r io.Reader) (int64, error) {
	bufp := hashBuffers.Get().(*[]byte)
	defer hashBuffers.Put(bufp)
	return io.CopyBuffer(w, ctxReader{ctx, r}, *bufp)
}

// ctxReader fails reads once its context is done, so that a large blob's
// hashing stops on Ctrl-C.
type ctxReader struct {
	ctx context.Context
	r   io.Reader
}

func (c ctxReader) Read(p []byte) (int, error) {
	if err := c.ctx.Err(); err != nil {
		return 0, err
	}
	return c.r.Read(p)
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

// checkLayoutIndex checks index.json: the root tagged with the release
// version, each image under "<repository>:<version>" exactly as
// LayoutIndex writes it, and at most one untagged signature referrer whose
// subject is the root and whose layer is manifest.dsse. It returns the
// referrer's descriptor, if any. With signing, referrers are not checked
// nor returned: signing replaces them.
func checkLayoutIndex(ctx context.Context, dir *layout.Dir, md *metadata, signing bool) ([]ocispec.Descriptor, error) {
	want := map[string]bool{}
	key := func(d ocispec.Descriptor) string {
		return d.MediaType + " " + d.Digest.String() + " " + fmt.Sprint(d.Size) + " " + d.Annotations[ocispec.AnnotationRefName]
	}
	for _, d := range LayoutIndex(md.Manifest, md.RootDesc).Manifests {
		want[key(d)] = true
	}
	var referrers []ocispec.Descriptor
	for _, d := range md.Index.Manifests {
		if d.ArtifactType == bundle.ArtifactTypeDSSE && d.Annotations[ocispec.AnnotationRefName] == "" {
			referrers = append(referrers, d)
			continue
		}
		if !want[key(d)] {
			return nil, fmt.Errorf("%s lists %s (%q) that manifest.json does not name: %w", layout.IndexFile, d.Digest, d.Annotations[ocispec.AnnotationRefName], errdef.ErrMalformed)
		}
		delete(want, key(d))
	}
	if len(want) > 0 {
		return nil, fmt.Errorf("%s lacks %d of the entries manifest.json names: %w", layout.IndexFile, len(want), errdef.ErrMalformed)
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
	data, err := dir.FetchBytes(ctx, referrers[0])
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
	return referrers, nil
}

// checkNoStrayBlobs refuses a blob that nothing in the bundle reaches: it
// would travel (and be packed) unverified.
func checkNoStrayBlobs(dir *layout.Dir, reached map[digest.Digest]bool) error {
	blobDir := filepath.Join(dir.Path(), layout.BlobsDir, "sha256")
	entries, err := os.ReadDir(blobDir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	for _, e := range entries {
		if !reached[digest.NewDigestFromEncoded(digest.SHA256, e.Name())] {
			return fmt.Errorf("%s/sha256/%s: no manifest of the bundle reaches it: %w", layout.BlobsDir, e.Name(), errdef.ErrMalformed)
		}
	}
	return nil
}
