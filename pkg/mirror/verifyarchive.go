package mirror

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"sort"

	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/stellaops/mirror/pkg/bundle"
	"github.com/stellaops/mirror/pkg/errdef"
	"github.com/stellaops/mirror/pkg/layout"
)

// isArchive reports whether path names a bundle archive rather than an
// envelope: a .tar, .tar.gz or .tar.zst (or .tgz, .tzst), a volume list,
// or a file that starts like a gzip or zstd stream or holds a tar header.
func isArchive(path string) bool {
	if layout.IsVolumeList(path) {
		return true
	}
	if _, err := layout.CompressionFor(path); err == nil {
		return true
	}
	f, err := os.Open(path)
	if err != nil {
		return false
	}
	defer f.Close()
	if layout.SniffCompression(f) != layout.None {
		return true
	}
	// The ustar magic of a tar header, at offset 257.
	magic := make([]byte, 5)
	n, _ := f.ReadAt(magic, 257)
	return n == 5 && string(magic) == "ustar"
}

// verifyArchive verifies a bundle archive as verifyBundle verifies a
// directory, reading it once, front to back, with no extraction: the
// signature over the head (before anything else is parsed), then the
// structure, expiry and index.json, then every entry: each must be a blob
// or a file manifest.json names (with its declared size, hashing right) or
// a head file, and every one of them must be there.
func verifyArchive(ctx context.Context, path string, opts VerifyOptions, log *slog.Logger) (*VerifyResult, error) {
	// Read front to back, plain or compressed: what is checked is the
	// stream as it comes off the media, every entry of it.
	src, err := openTarSource(ctx, path, log)
	if err != nil {
		return nil, err
	}
	defer src.close()
	res := &VerifyResult{Envelope: path, Bundle: path}
	if res.Signature, err = verifyBundleSignature(ctx, src.file, opts.Trust); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	log.Info("signature verified", "archive", path, "signers", len(res.Signature.Signers))
	md, err := src.metadata(ctx)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	res.Root = md.RootDesc.Digest
	if err := checkExpiry(md.Manifest, opts.Now, opts.AllowExpired, "verify"); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	if opts.SignatureOnly {
		return res, nil
	}
	log.Info("verifying content", "archive", path)
	if res.Content, err = streamContent(ctx, src, md); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	log.Info("content verified", "blobs", res.Content.Blobs, "bytes", res.Content.Bytes)
	return res, nil
}

// streamContent is verifyContent for an archive: the manifests were
// verified as the head was read; the other blobs and the human view are
// hashed as they stream past.
func streamContent(ctx context.Context, src *source, md *metadata) (*ContentResult, error) {
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
	res := &ContentResult{Manifests: graph.manifests, Blobs: len(graph.blobs)}
	// A delta bundle does not carry what its base holds: those blobs and
	// files are checked on import, against the target; any the archive
	// does carry must hash right all the same.
	omitted := md.Manifest.OmittedSet()
	blobs := map[digest.Digest]ocispec.Descriptor{}
	required := map[string]bool{}
	var declared int64
	for _, b := range graph.blobs {
		res.Bytes += b.Size
		blobs[b.Digest] = b
		declared += b.Size
		if !omitted[b.Digest] {
			required[layout.BlobName(b.Digest)] = true
		}
	}
	files := map[string]bundle.File{}
	for _, f := range append(append([]bundle.File{}, md.Manifest.Advisories...), md.Manifest.Files...) {
		files[f.Path] = f
		declared += f.Size
		if !omitted[f.Digest] {
			required[f.Path] = true
			res.Files++
		}
	}
	err = src.stream(declared+layout.DefaultTarLimit, func(e *layout.Entry, r io.Reader) error {
		delete(required, e.Name)
		if dg, ok := layout.BlobDigest(e.Name); ok {
			if b, ok := blobs[dg]; ok {
				return streamEntry(ctx, e, r, b)
			}
			if graph.reached[dg] {
				return nil // a manifest, verified as the head was read
			}
			return fmt.Errorf("archive entry %s is not part of the bundle: %w", e.Name, errdef.ErrMalformed)
		}
		if f, ok := files[e.Name]; ok {
			return streamEntry(ctx, e, r, ocispec.Descriptor{Digest: f.Digest, Size: f.Size})
		}
		if layout.IsHeadFile(e.Name) {
			return nil
		}
		return fmt.Errorf("archive entry %q is not part of the bundle: %w", e.Name, errdef.ErrMalformed)
	})
	if err != nil {
		return nil, err
	}
	if len(required) > 0 {
		var lacking []string
		for name := range required {
			lacking = append(lacking, name)
		}
		sort.Strings(lacking)
		more := ""
		if len(lacking) > 1 {
			more = fmt.Sprintf(" and %d more", len(lacking)-1)
		}
		// Missing content is a mismatch, as for a directory.
		return nil, fmt.Errorf("archive lacks %s%s that manifest.json names: %w", lacking[0], more, errdef.ErrDigestMismatch)
	}
	return res, nil
}

// streamEntry hashes one entry against what manifest.json says of it.
func streamEntry(ctx context.Context, e *layout.Entry, r io.Reader, desc ocispec.Descriptor) error {
	if e.Size != desc.Size {
		return fmt.Errorf("archive entry %s has %d bytes, its descriptor says %d: %w", e.Name, e.Size, desc.Size, errdef.ErrDigestMismatch)
	}
	return drain(ctx, bundle.NewVerifyReader(r, desc), "archive entry "+e.Name)
}
