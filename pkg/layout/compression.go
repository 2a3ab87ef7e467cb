package layout

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/klauspost/compress/gzip"
	"github.com/klauspost/compress/zstd"

	"github.com/stellaops/mirror/pkg/errdef"
)

// Compression is the codec around a bundle tar.
type Compression int

// Codecs of a bundle tar.
const (
	None Compression = iota
	Gzip
	Zstd
)

// String names the codec as its file suffix does.
func (c Compression) String() string {
	switch c {
	case Gzip:
		return "gzip"
	case Zstd:
		return "zstd"
	}
	return "none"
}

// CompressionFor picks the codec from a file name: .tar, .tar.gz (.tgz) or
// .tar.zst (.tzst). Any other suffix is a usage error.
func CompressionFor(name string) (Compression, error) {
	switch {
	case strings.HasSuffix(name, ".tar"):
		return None, nil
	case strings.HasSuffix(name, ".tar.gz"), strings.HasSuffix(name, ".tgz"):
		return Gzip, nil
	case strings.HasSuffix(name, ".tar.zst"), strings.HasSuffix(name, ".tzst"):
		return Zstd, nil
	}
	return None, fmt.Errorf("%s: name must end in .tar, .tar.gz or .tar.zst: %w", name, errdef.ErrUsage)
}

// compressor wraps w in the codec. Output is deterministic: no names or
// times in the gzip header, fixed zstd settings. Compressed output is
// seekable (framedWriter): its writer has EndFrame, which Pack calls at
// each entry.
func compressor(w io.Writer, c Compression) (io.WriteCloser, error) {
	switch c {
	case Gzip:
		return newFramedGzipWriter(w)
	case Zstd:
		return newFramedZstdWriter(w)
	}
	return nopWriteCloser{w}, nil
}

type nopWriteCloser struct{ io.Writer }

func (nopWriteCloser) Close() error { return nil }

// maxZstdWindow bounds the decoder's window (and so its memory) whatever
// the archive's frame header asks for.
const maxZstdWindow = 64 << 20

// decompressor detects the codec from the stream's first bytes and
// returns a reader of the plain tar.
func decompressor(r io.Reader) (io.Reader, Compression, func(), error) {
	src := &sourceReader{r: r}
	br := bufio.NewReaderSize(src, 1<<20)
	magic, err := br.Peek(4)
	if err != nil && src.err != nil {
		// The medium failed (EIO) before the magic was read: no fault of
		// the archive's, and its bytes must not be read as a plain tar.
		return nil, None, nil, src.err
	}
	switch sniffCompression(magic) {
	case Gzip:
		zr, err := gzip.NewReader(br)
		if err != nil && src.err != nil && errors.Is(err, src.err) {
			return nil, Gzip, nil, fmt.Errorf("gzip stream: %w", err) // the medium's, not malformed
		}
		if errors.Is(err, gzip.ErrHeader) {
			// Its magic read, the rest of its header does not: altered
			// on the media, as a member of pack's so damaged.
			return nil, Gzip, nil, fmt.Errorf("gzip stream: %v: the archive was altered or damaged on the media, get a fresh copy: %w", err, errdef.ErrDigestMismatch)
		}
		if err != nil {
			return nil, Gzip, nil, fmt.Errorf("gzip: %v: %w", err, errdef.ErrMalformed)
		}
		return &damageReader{r: zr, src: src, rest: br, codec: Gzip}, Gzip, func() { zr.Close() }, nil
	case Zstd:
		zr, err := zstd.NewReader(br, zstd.WithDecoderConcurrency(1), zstd.WithDecoderMaxWindow(maxZstdWindow), zstd.WithDecoderMaxMemory(maxZstdWindow*2))
		if err != nil && src.err != nil && errors.Is(err, src.err) {
			return nil, Zstd, nil, fmt.Errorf("zstd stream: %w", err) // the medium's, not malformed
		}
		if err != nil {
			return nil, Zstd, nil, fmt.Errorf("zstd: %v: %w", err, errdef.ErrMalformed)
		}
		return &damageReader{r: zr, src: src, rest: br, codec: Zstd}, Zstd, zr.Close, nil
	}
	return br, None, func() {}, nil
}

// sourceReader keeps the last error of the compressed bytes' own reader
// (a medium that fails), so that it is not taken for the codec's.
type sourceReader struct {
	r   io.Reader
	err error
	// n counts the bytes read; nonZero is one past the last of them that
	// is not zero (Trailing tells zeros after a stream from bytes).
	n, nonZero int64
}

func (s *sourceReader) Read(p []byte) (int, error) {
	n, err := s.r.Read(p)
	if err != nil && err != io.EOF {
		s.err = err
	}
	// From the end: a chunk of compressed data nearly always ends in a
	// byte other than zero, so this costs one comparison a read.
	for i := n - 1; i >= 0; i-- {
		if p[i] != 0 {
			s.nonZero = s.n + int64(i) + 1
			break
		}
	}
	s.n += int64(n)
	return n, err
}

// damageReader says the codec's own finding in a stream, content that does
// not decode or fails its checksum (gzip's CRC-32, zstd's XXH64), is the
// archive's bytes altered on the media: a digest mismatch, as in a frame of
// pack's seekable archive (Seekable.damaged) or a blob of a plain tar. A
// stream cut short (truncated), a window or content past the decoder's
// bounds (malformed, as for a frame), and the source's own errors pass as
// they are.
type damageReader struct {
	r     io.Reader
	src   *sourceReader
	rest  *bufio.Reader // the compressed bytes the codec has not read yet
	codec Compression
}

func (d *damageReader) Read(p []byte) (int, error) {
	n, err := d.r.Read(p)
	switch {
	case err == nil || err == io.EOF || errors.Is(err, io.ErrUnexpectedEOF),
		d.src.err != nil && errors.Is(err, d.src.err), errors.As(err, new(*os.PathError)),
		errors.Is(err, zstd.ErrWindowSizeExceeded), errors.Is(err, zstd.ErrDecoderSizeExceeded):
		return n, err
	}
	return n, fmt.Errorf("%s stream: %v: the archive was altered or damaged on the media, get a fresh copy: %w", d.codec, err, errdef.ErrDigestMismatch)
}
