package layout

import (
	"archive/tar"
	"bytes"
	"context"
	"crypto/sha256"
	"fmt"
	"io"
	"os"
	"runtime"
	"time"

	"github.com/opencontainers/go-digest"

	"github.com/stellaops/mirror/internal/errgroup"
	"github.com/stellaops/mirror/pkg/errdef"
)

// packPlainFile writes the uncompressed tar straight into a file: each
// header as archive/tar writes it, each content copied file to file by the
// kernel (copy_file_range, no pass through this process), while every file
// is hashed against SHA256SUMS in parallel. The bytes are exactly those of
// the tar.Writer path; a file that does not match fails the pack.
func (d *Dir) packPlainFile(ctx context.Context, out *os.File, order []string, want map[string]digest.Digest, mtime time.Time) (PackStats, map[digest.Digest]int64, error) {
	var stats PackStats
	holes := map[digest.Digest]int64{}
	checked := d.checkInBackground(ctx, order, want)
	wb := NewWriteback(out)
	var hdr bytes.Buffer
	for _, name := range order {
		if err := ctx.Err(); err != nil {
			checked()
			return stats, nil, err
		}
		var n int64
		var err error
		if desc, ext := d.External(want[name]); ext && !d.has(name) {
			var at int64
			n, at, err = holeEntry(wb, &hdr, name, desc.Size, mtime)
			holes[desc.Digest] = at
		} else {
			n, err = d.copyEntry(ctx, wb, &hdr, name, mtime)
		}
		if err != nil {
			checked()
			return stats, nil, err
		}
		stats.Files++
		stats.Bytes += n
	}
	// The end of the archive: two zero blocks, as tar.Writer.Close writes.
	if _, err := wb.Write(make([]byte, 2*blockSize)); err != nil {
		checked()
		return stats, nil, err
	}
	wb.Start()
	return stats, holes, checked()
}

// checkInBackground hashes every listed file against SHA256SUMS, in
// parallel, while the archive is written; the returned function waits and
// gives the first mismatch. External blobs are verified as they are
// written into their holes instead.
func (d *Dir) checkInBackground(ctx context.Context, order []string, want map[string]digest.Digest) func() error {
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(runtime.GOMAXPROCS(0))
	queued := make(chan struct{})
	var queueErr error
	go func() {
		defer close(queued)
		defer errdef.Recover(&queueErr) // a bug: the check's error, not the process's end
		for _, name := range order {
			w := want[name]
			if _, ext := d.External(w); ext || w == "" {
				continue
			}
			g.Go(func() error { return d.checkFile(gctx, name, w) })
		}
	}()
	return func() error {
		<-queued
		if err := g.Wait(); err != nil {
			return err // a mismatch found is told as one
		}
		return queueErr
	}
}

// holeEntry writes an entry's header and leaves room for its content
// (a hole in the file until it is written), returning where it starts.
func holeEntry(out *Writeback, hdr *bytes.Buffer, name string, size int64, mtime time.Time) (int64, int64, error) {
	hdr.Reset()
	if err := tar.NewWriter(hdr).WriteHeader(packHeader(name, size, mtime)); err != nil {
		return 0, 0, err
	}
	if _, err := out.Write(hdr.Bytes()); err != nil {
		return 0, 0, err
	}
	at, err := out.f.Seek(0, io.SeekCurrent)
	if err != nil {
		return 0, 0, err
	}
	padded := size + (blockSize-size%blockSize)%blockSize
	if _, err := out.f.Seek(padded, io.SeekCurrent); err != nil {
		return 0, 0, err
	}
	out.Skip(padded)
	return size, at, nil
}

const blockSize = 512

// copyEntry writes one entry: header, content (kernel copy), padding.
func (d *Dir) copyEntry(ctx context.Context, out *Writeback, hdr *bytes.Buffer, name string, mtime time.Time) (int64, error) {
	f, st, err := d.openListed(name)
	if err != nil {
		return 0, err
	}
	defer f.Close()
	hdr.Reset()
	if err := tar.NewWriter(hdr).WriteHeader(packHeader(name, st.Size(), mtime)); err != nil {
		return 0, err
	}
	if _, err := out.Write(hdr.Bytes()); err != nil {
		return 0, err
	}
	// In steps, so that a large file's writeback starts while it is copied.
	var n int64
	for n < st.Size() {
		if err := ctx.Err(); err != nil {
			return n, err
		}
		var k int64
		k, err = out.f.ReadFrom(io.LimitReader(f, min(st.Size()-n, 4*writebackChunk)))
		out.Wrote(k)
		n += k
		if err != nil || k == 0 {
			break
		}
	}
	if err != nil {
		return n, fmt.Errorf("%s: %w", name, err)
	}
	if n != st.Size() {
		return n, fmt.Errorf("%s: changed while packed: %w", name, errdef.ErrDigestMismatch)
	}
	if pad := (blockSize - n%blockSize) % blockSize; pad > 0 {
		if _, err := out.Write(make([]byte, pad)); err != nil {
			return n, err
		}
	}
	return n, nil
}

// checkFile hashes one file of the directory against SHA256SUMS.
func (d *Dir) checkFile(ctx context.Context, name string, want digest.Digest) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	f, _, err := d.openListed(name)
	if err != nil {
		return err
	}
	defer f.Close()
	h := sha256.New()
	buf := getCopyBuffer()
	defer putCopyBuffer(buf)
	if _, err := copyBuffered(h, f, buf); err != nil {
		return fmt.Errorf("%s: %w", name, err)
	}
	if got := digest.NewDigest(digest.SHA256, h); got != want {
		return fmt.Errorf("%s: hashes to %s, %s says %s: %w", name, got, ChecksumsFile, want, errdef.ErrDigestMismatch)
	}
	return nil
}
