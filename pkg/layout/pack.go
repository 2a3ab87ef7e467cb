package layout

import (
	"archive/tar"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"strings"
	"time"

	"github.com/opencontainers/go-digest"

	"github.com/stellaops/mirror/pkg/bundle"
	"github.com/stellaops/mirror/pkg/errdef"
)

// PackStats count what Pack wrote.
type PackStats struct {
	Files int
	// Bytes is the total size of the files, before compression.
	Bytes int64
}

// Pack writes the bundle directory as a deterministic tar to w: entries in
// packOrder, regular files only, mode 0644 (0755 for scripts), uid/gid 0,
// no user names, every mtime the bundle's createdAt. Every file is checked
// against SHA256SUMS while the archive is written (in parallel with it),
// so a corrupted directory fails (errdef.ErrDigestMismatch) instead of
// producing a bad archive.
func (d *Dir) Pack(ctx context.Context, w io.Writer, c Compression) (PackStats, error) {
	var stats PackStats
	order, want, mtime, err := d.packPlan(ctx)
	if err != nil {
		return stats, err
	}
	if f, ok := w.(*os.File); ok && c == None {
		stats, _, err := d.packPlainFile(ctx, f, order, want, mtime)
		return stats, err
	}
	if f, ok := w.(*os.File); ok {
		w = NewWriteback(f)
	}
	cw, err := compressor(w, c)
	if err != nil {
		return stats, err
	}
	// The codec has the write path to itself; the files are hashed against
	// SHA256SUMS beside it.
	checked := d.checkInBackground(ctx, order, want)
	tw := tar.NewWriter(cw)
	buf := make([]byte, copyBufferSize)
	framed, _ := cw.(interface{ EndFrame() error })
	for _, name := range order {
		if err = ctx.Err(); err != nil {
			break
		}
		// Each entry starts a zstd frame, where a reader at random finds it.
		if framed != nil {
			if err = tw.Flush(); err == nil {
				err = framed.EndFrame()
			}
			if err != nil {
				break
			}
		}
		var n int64
		if n, err = d.packFile(ctx, tw, name, mtime, buf); err != nil {
			break
		}
		stats.Files++
		stats.Bytes += n
	}
	if cerr := checked(); err == nil {
		err = cerr
	}
	if err != nil {
		return stats, err
	}
	if err := tw.Close(); err != nil {
		return stats, err
	}
	return stats, cw.Close()
}

// packPlan reads SHA256SUMS and manifest.json and orders the entries.
func (d *Dir) packPlan(ctx context.Context) (order []string, want map[string]digest.Digest, mtime time.Time, err error) {
	sumsData, err := d.ReadFile(ChecksumsFile)
	if err != nil {
		return nil, nil, mtime, err
	}
	sums, err := bundle.ParseChecksums(sumsData)
	if err != nil {
		return nil, nil, mtime, err
	}
	want = map[string]digest.Digest{}
	listed := map[string]bool{}
	for _, s := range sums {
		want[s.Path] = s.Digest
		listed[s.Path] = true
	}
	mtime, omitted, err := d.manifestFacts()
	if err != nil {
		return nil, nil, mtime, err
	}
	order, err = d.packOrder(ctx, listed, omitted)
	return order, want, mtime, err
}

// PackWithHoles writes the plain tar into out leaving room for the
// external blobs (AddExternal) at the offsets it returns; the caller writes
// each there (verifying it) before the archive is whole.
func (d *Dir) PackWithHoles(ctx context.Context, out *os.File) (PackStats, map[digest.Digest]int64, error) {
	order, want, mtime, err := d.packPlan(ctx)
	if err != nil {
		return PackStats{}, nil, err
	}
	return d.packPlainFile(ctx, out, order, want, mtime)
}

// header returns the tar header of a packed entry.
func packHeader(name string, size int64, mtime time.Time) *tar.Header {
	mode := int64(0o644)
	if strings.HasPrefix(name, "scripts/") {
		mode = 0o755
	}
	return &tar.Header{Typeflag: tar.TypeReg, Name: name, Size: size, Mode: mode, ModTime: mtime, Format: tar.FormatPAX}
}

func (d *Dir) packFile(ctx context.Context, tw *tar.Writer, name string, mtime time.Time, buf []byte) (int64, error) {
	f, st, err := d.openListed(name)
	if err != nil {
		return 0, err
	}
	defer f.Close()
	if err := tw.WriteHeader(packHeader(name, st.Size(), mtime)); err != nil {
		return 0, err
	}
	n, err := io.CopyBuffer(tw, ctxReader{ctx, io.LimitReader(f, st.Size())}, buf)
	if ctx.Err() != nil {
		return n, ctx.Err()
	}
	if err != nil {
		return n, fmt.Errorf("%s: %w", name, err)
	}
	if n != st.Size() {
		return n, fmt.Errorf("%s: changed while packed: %w", name, errdef.ErrDigestMismatch)
	}
	return n, nil
}

// openListed opens a file of the pack's plan, which SHA256SUMS lists: one
// not there is the directory not matching its checksums
// (errdef.ErrDigestMismatch, exit 2), as verify-checksums says of it, not
// a file the operator named wrongly.
func (d *Dir) openListed(name string) (*os.File, fs.FileInfo, error) {
	f, st, err := d.openFileStat(name)
	if errors.Is(err, errdef.ErrNotFound) {
		return nil, nil, d.listedMissing(name)
	}
	return f, st, err
}

// listedMissing is the error for name, listed in SHA256SUMS, not there.
func (d *Dir) listedMissing(name string) error {
	return fmt.Errorf("%s: %s is listed in %s but missing: %w", d.root, name, ChecksumsFile, errdef.ErrDigestMismatch)
}

// manifestFacts reads what pack needs of manifest.json: createdAt, the
// fixed mtime of every entry, and the blobs a delta bundle omits.
func (d *Dir) manifestFacts() (time.Time, map[digest.Digest]bool, error) {
	data, err := d.ReadFile(ManifestFile)
	if err != nil {
		return time.Time{}, nil, err
	}
	m, err := bundle.ParseManifest(data)
	if err != nil {
		return time.Time{}, nil, err
	}
	return m.CreatedAt.UTC().Truncate(time.Second), m.OmittedSet(), nil
}

// ContextReader reads r until ctx is done, then fails: a layer of
// gigabytes going onto slow media, a feed being copied or a blob being
// hashed stops on Ctrl-C, not at its end.
func ContextReader(ctx context.Context, r io.Reader) io.Reader { return ctxReader{ctx, r} }

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
