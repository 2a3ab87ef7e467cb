package mirror

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sort"

	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/stellaops/mirror/internal/errgroup"
	"github.com/stellaops/mirror/pkg/bundle"
	"github.com/stellaops/mirror/pkg/errdef"
	"github.com/stellaops/mirror/pkg/layout"
	"github.com/stellaops/mirror/pkg/transfer"
)

// archivePlan is what a bundle archive must hold: every entry is a blob
// or file manifest.json names (with its size, hashing right), a manifest
// (verified as the head was read) or a head file, and every required one
// is there.
type archivePlan struct {
	res      *ContentResult
	blobs    map[digest.Digest]ocispec.Descriptor
	files    map[string]bundle.File
	reached  map[digest.Digest]bool
	required map[string]bool
	declared int64 // the bytes of blobs and files, for the decompression limit
}

func planArchive(ctx context.Context, md *metadata) (*archivePlan, error) {
	if err := md.checkStructure(ctx); err != nil {
		return nil, err
	}
	referrers, err := md.checkIndex(ctx, false)
	if err != nil {
		return nil, err
	}
	graph, err := walkGraph(ctx, md, referrers)
	if err != nil {
		return nil, err
	}
	p := &archivePlan{
		res:   &ContentResult{Manifests: graph.manifests},
		blobs: map[digest.Digest]ocispec.Descriptor{}, files: map[string]bundle.File{},
		reached: graph.reached, required: map[string]bool{},
	}
	// A delta bundle does not carry what its base holds: those blobs and
	// files are checked on import, against the target; any the archive
	// does carry must hash right all the same.
	omitted := md.Manifest.OmittedSet()
	for _, b := range graph.blobs {
		p.blobs[b.Digest] = b
		p.declared += b.Size
		if omitted[b.Digest] {
			p.res.Omitted++
			continue
		}
		p.res.Blobs++
		p.res.Bytes += b.Size
		p.required[layout.BlobName(b.Digest)] = true
	}
	for _, f := range md.Manifest.HumanView() {
		p.files[f.Path] = f
		p.declared += f.Size
		if !omitted[f.Digest] {
			p.required[f.Path] = true
			p.res.Files++
		}
	}
	return p, nil
}

// expect takes the archive entry name off the required list and says what
// it must hold: desc, to hash (hash true), or nothing more to check. An
// entry the bundle does not name is an error.
func (p *archivePlan) expect(name string) (desc ocispec.Descriptor, hash bool, err error) {
	delete(p.required, name)
	if dg, ok := layout.BlobDigest(name); ok {
		if b, ok := p.blobs[dg]; ok {
			return b, true, nil
		}
		if p.reached[dg] {
			return desc, false, nil // a manifest, verified as the head was read
		}
		return desc, false, fmt.Errorf("archive entry %s is not part of the bundle: %w", name, errdef.ErrMalformed)
	}
	if f, ok := p.files[name]; ok {
		return ocispec.Descriptor{Digest: f.Digest, Size: f.Size}, true, nil
	}
	if layout.IsHeadFile(name) {
		return desc, false, nil
	}
	if err := clutterEntryError("", name); err != nil {
		return desc, false, err
	}
	return desc, false, fmt.Errorf("archive entry %q is not part of the bundle: %w", name, errdef.ErrMalformed)
}

// lacking reports a required entry the archive did not hold.
func (p *archivePlan) lacking() error {
	if len(p.required) == 0 {
		return nil
	}
	var lacking []string
	for name := range p.required {
		lacking = append(lacking, name)
	}
	sort.Strings(lacking)
	more := ""
	if len(lacking) > 1 {
		more = fmt.Sprintf(" and %d more", len(lacking)-1)
	}
	// Missing content is a mismatch, as for a directory.
	return fmt.Errorf("archive lacks %s%s that manifest.json names: %w", lacking[0], more, errdef.ErrDigestMismatch)
}

// streamContent is verifyContent for an archive read as a stream: the
// manifests were verified as the head was read; the other blobs and the
// human view are hashed as they stream past.
func streamContent(ctx context.Context, src *source, md *metadata) (*ContentResult, error) {
	p, err := planArchive(ctx, md)
	if err != nil {
		return nil, err
	}
	// The stream names the archive in its own errors (a truncated one);
	// those of the entries are named here.
	err = src.stream(p.declared+layout.DefaultTarLimit, func(e *layout.Entry, r io.Reader) error {
		desc, hash, err := p.expect(e.Name)
		if err == nil && hash {
			err = streamEntry(ctx, e, r, desc)
		}
		if err != nil {
			return fmt.Errorf("%s: %w", src.name, err)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	if err := p.lacking(); err != nil {
		return nil, fmt.Errorf("%s: %w", src.name, err)
	}
	return p.res, nil
}

// indexedContent is verifyContent for an archive read at random (a plain
// tar, or pack's seekable .tar.zst or .tar.gz): every entry the index
// holds is checked as a stream's would be, then the blobs and files are
// hashed in parallel.
func indexedContent(ctx context.Context, idx *layout.TarIndex, md *metadata, concurrency int) (*ContentResult, error) {
	p, err := planArchive(ctx, md)
	if err != nil {
		return nil, err
	}
	type check struct {
		name string
		desc ocispec.Descriptor
	}
	var checks []check
	for _, name := range idx.Names() {
		desc, hash, err := p.expect(name)
		if err != nil {
			return nil, err
		}
		if hash {
			checks = append(checks, check{name, desc})
		}
	}
	if err := p.lacking(); err != nil {
		return nil, err
	}
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(concurrency)
	for _, c := range transfer.LargestFirst(checks, func(c check) int64 { return c.desc.Size }) {
		g.Go(func() error {
			sr, _ := idx.Section(c.name)
			if sr.Size() != c.desc.Size {
				return fmt.Errorf("archive entry %s has %d bytes, its descriptor says %d: %w", c.name, sr.Size(), c.desc.Size, errdef.ErrDigestMismatch)
			}
			return drain(gctx, bundle.NewVerifyReader(sr, c.desc), "archive entry "+c.name)
		})
	}
	if err := g.Wait(); err != nil {
		return nil, err
	}
	return p.res, nil
}

// streamEntry hashes one entry against what manifest.json says of it.
func streamEntry(ctx context.Context, e *layout.Entry, r io.Reader, desc ocispec.Descriptor) error {
	if e.Size != desc.Size {
		return fmt.Errorf("archive entry %s has %d bytes, its descriptor says %d: %w", e.Name, e.Size, desc.Size, errdef.ErrDigestMismatch)
	}
	if _, err := copyBuffered(ctx, io.Discard, bundle.NewVerifyReader(r, desc)); err != nil {
		if errors.Is(err, errdef.ErrMalformed) {
			// The tar reader's own: it names the entry (truncated).
			return err
		}
		return fmt.Errorf("archive entry %s: %w", e.Name, err)
	}
	return nil
}
