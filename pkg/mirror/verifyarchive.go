package mirror

import (
	"context"
	"errors"
	"fmt"
	"log/slog"

	"github.com/stellaops/mirror/pkg/errdef"
	"github.com/stellaops/mirror/pkg/layout"
)

// isArchive reports whether path names a bundle archive rather than an
// envelope: a .tar, .tar.gz or .tar.zst (or .tgz, .tzst), a volume list,
// or a file that starts like a gzip or zstd stream or holds a tar header.
// A named pipe or device is taken for one, to be refused as the archive
// given (layout.OpenArchive), not read as an envelope.
func isArchive(path string) bool {
	if layout.IsVolumeList(path) {
		return true
	}
	if _, err := layout.CompressionFor(path); err == nil {
		return true
	}
	f, _, err := layout.OpenArchive(path)
	if errors.Is(err, errdef.ErrUsage) {
		return true
	}
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
// directory, with no extraction: the signature over the head (before
// anything else is parsed), then the structure, expiry and index.json, then
// every entry: each must be a blob or a file manifest.json names (with its
// declared size, hashing right) or a head file, and every one of them must
// be there. An archive that can be read at random (a plain tar, pack's
// .tar.zst and .tar.gz) is hashed in parallel; any other (split volumes,
// another tool's compressed tar) is read once, front to back, as it comes
// off the media.
func verifyArchive(ctx context.Context, path string, opts VerifyOptions, log *slog.Logger) (*VerifyResult, error) {
	// Volumes are read as a stream, so that each is hashed and a bad one
	// named.
	src, err := openArchiveSource(ctx, path, false, log)
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
		return nil, err // named: source.metadata names the archive
	}
	res.Root = md.RootDesc.Digest
	if err := checkExpiry(md.Manifest, opts.Now, opts.AllowExpired, "verify"); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	if opts.SignatureOnly {
		return res, nil
	}
	log.Info("verifying content", "archive", path)
	if src.index != nil {
		if res.Content, err = indexedContent(ctx, src.index, md, concurrency(opts.Concurrency)); err != nil {
			return nil, fmt.Errorf("%s: %w", path, err)
		}
	} else if res.Content, err = streamContent(ctx, src, md); err != nil {
		// Named already: streamContent names the archive, and for a
		// split one the volume its error lies in. A volume's bytes that
		// fail to decode are most likely a volume changed on its media:
		// hashed against the list, it is named as import names it, a
		// mismatch (exit 2), not a malformed archive.
		if errors.Is(err, errdef.ErrMalformed) && layout.IsVolumeList(path) {
			if _, verr := VerifyVolumes(ctx, path, TrustOptions{}, opts.Concurrency); errors.Is(verr, errdef.ErrDigestMismatch) || errors.Is(verr, errdef.ErrNotFound) {
				return nil, verr
			}
		}
		return nil, err
	}
	// The files the signature does not cover, checked as for a directory:
	// a SHA256SUMS altered on the media passes verify, and fails
	// `sha256sum -c` once the archive is unpacked.
	if err := checkArchiveSideFiles(ctx, path, src.file); err != nil {
		return nil, err
	}
	if err := checkUnreadFrames(ctx, src); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	if err := warnTrailing(src.name, src.trailing, log); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	log.Info("content verified", "blobs", res.Content.Blobs, "bytes", res.Content.Bytes)
	return res, nil
}

// checkUnreadFrames decodes what of a seekable .tar.zst or .tar.gz the
// verification did not (layout.Seekable.CheckUnread): the frames of
// entries whose content it never reads, which could hide entries that
// another reader of the archive sees. Only the side files' frames are left
// by then, so it costs kilobytes.
func checkUnreadFrames(ctx context.Context, src *source) error {
	t, ok := src.store.(*tarStore)
	if !ok {
		return nil
	}
	z, ok := t.f.(seekableArchive)
	if !ok {
		return nil
	}
	return z.CheckUnread(ctx)
}

// warnTrailing warns of bytes after the end of the tar of the archive
// name, which trailing reads (nil for no archive), other than the zero
// padding tar writes: pack never writes them, so the copy is not the one
// pack wrote, byte for byte (junk appended by a copy, or a seek table cut
// short, which before went unsaid: the compressed archive was read as a
// stream in silence). It warns, and does not refuse: no reader of the
// bundle reads them, and every signed byte was verified, so the bundle is
// sound; its sha256 against the one published is not. verify, import,
// push and serve warn so.
func warnTrailing(name string, trailing func() (layout.Trailing, error), log *slog.Logger) error {
	if trailing == nil {
		return nil
	}
	t, err := trailing()
	if err != nil || !t.Found() {
		return err
	}
	log.Warn("archive is not byte for byte the one pack wrote: "+t.String()+"; they are no part of the bundle, whose signed content verified", "archive", name)
	return nil
}
