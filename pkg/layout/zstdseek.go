package layout

import (
	"bufio"
	"fmt"
	"io"
	"sort"
	"sync"

	"github.com/klauspost/compress/zstd"

	"github.com/stellaops/mirror/pkg/errdef"
)

// ZstdSeekable reads a seekable .tar.zst (as pack writes it) at random: it
// is an io.ReaderAt of the plain tar. A read decompresses from the start of
// the frame holding its first byte, so that reading in order (a blob, a
// retry from where the registry's copy ends) goes on where the last read
// stopped, with at most zstdMaxIdle decoders kept for that.
type ZstdSeekable struct {
	r      io.ReaderAt
	frames []zstdFrame
	size   int64 // of the tar

	mu   sync.Mutex
	idle []*zstdCursor
}

// zstdCursor is a decoder positioned at tar offset pos.
type zstdCursor struct {
	dec *zstd.Decoder
	pos int64
}

// zstdMaxIdle bounds the decoders kept between reads (about a megabyte
// each, the window pack uses).
const zstdMaxIdle = 16

// zstdSeekMaxWindow bounds the window a frame of a seekable archive may ask
// its decoder for: pack's use 1 MiB, and with many readers at once a hostile
// archive must not make each hold the 64 MiB a stream may use.
const zstdSeekMaxWindow = 8 << 20

// OpenZstdSeekable opens the zstd archive r (size bytes) for random access.
// It returns ok false when the archive has no seek table (it can then only
// be read as a stream), and an error when the table is malformed.
func OpenZstdSeekable(r io.ReaderAt, size int64) (z *ZstdSeekable, ok bool, err error) {
	frames, ok, err := readSeekTable(r, size)
	if !ok || err != nil {
		return nil, ok, err
	}
	last := frames[len(frames)-1]
	return &ZstdSeekable{r: r, frames: frames, size: last.tarAt + last.tarN}, true, nil
}

// Size is the size of the tar.
func (z *ZstdSeekable) Size() int64 { return z.size }

// ReadAt reads tar bytes at off.
func (z *ZstdSeekable) ReadAt(p []byte, off int64) (int, error) {
	if off < 0 {
		return 0, fmt.Errorf("zstd archive: negative offset %d: %w", off, errdef.ErrUsage)
	}
	if off >= z.size {
		return 0, io.EOF
	}
	want := p[:min(int64(len(p)), z.size-off)]
	c, err := z.cursor(off)
	if err != nil {
		return 0, err
	}
	n, err := io.ReadFull(c.dec, want)
	c.pos += int64(n)
	if err != nil {
		c.dec.Close()
		return n, z.decodeError(c.pos, err)
	}
	z.release(c)
	if len(want) < len(p) {
		return n, io.EOF
	}
	return n, nil
}

// cursor returns a decoder positioned at off: an idle one already there,
// or one started at the frame holding off and read on to it.
func (z *ZstdSeekable) cursor(off int64) (*zstdCursor, error) {
	z.mu.Lock()
	for i, c := range z.idle {
		if c.pos == off {
			z.idle = append(z.idle[:i], z.idle[i+1:]...)
			z.mu.Unlock()
			return c, nil
		}
	}
	z.mu.Unlock()
	i := sort.Search(len(z.frames), func(i int) bool { return z.frames[i].tarAt+z.frames[i].tarN > off }) // off < z.size: found
	fr := z.frames[i]
	dec, err := zstd.NewReader(bufio.NewReaderSize(io.NewSectionReader(z.r, fr.at, 1<<62), 128<<10),
		zstd.WithDecoderConcurrency(1), zstd.WithDecoderLowmem(true),
		zstd.WithDecoderMaxWindow(zstdSeekMaxWindow), zstd.WithDecoderMaxMemory(2*zstdSeekMaxWindow))
	if err != nil {
		return nil, fmt.Errorf("zstd archive: %v: %w", err, errdef.ErrMalformed)
	}
	c := &zstdCursor{dec: dec, pos: fr.tarAt}
	if skip := off - fr.tarAt; skip > 0 {
		n, err := io.CopyN(io.Discard, dec, skip)
		if err != nil {
			dec.Close()
			return nil, z.decodeError(fr.tarAt+n, err)
		}
		c.pos = off
	}
	return c, nil
}

// decodeError says why decoding stopped at tar offset pos: the frames ran
// out before the size the seek table gives, or one of them is corrupt.
func (z *ZstdSeekable) decodeError(pos int64, err error) error {
	if err == io.EOF || err == io.ErrUnexpectedEOF {
		return fmt.Errorf("zstd archive: frames end at %d bytes of tar, the seek table says %d: %w", pos, z.size, errdef.ErrMalformed)
	}
	// A frame's checksum fails at its end: name the frame holding the last
	// byte decoded.
	last := max(pos-1, 0)
	i := sort.Search(len(z.frames), func(i int) bool { return z.frames[i].tarAt+z.frames[i].tarN > last })
	return fmt.Errorf("zstd archive: the frame at archive byte %d is corrupt (%v): %w", z.frames[min(i, len(z.frames)-1)].at, err, errdef.ErrMalformed)
}

// release keeps c for a read that goes on where it stopped.
func (z *ZstdSeekable) release(c *zstdCursor) {
	z.mu.Lock()
	defer z.mu.Unlock()
	if len(z.idle) == zstdMaxIdle {
		z.idle[0].dec.Close()
		z.idle = z.idle[1:]
	}
	z.idle = append(z.idle, c)
}

// Close releases the decoders (not the archive below).
func (z *ZstdSeekable) Close() error {
	z.mu.Lock()
	defer z.mu.Unlock()
	for _, c := range z.idle {
		c.dec.Close()
	}
	z.idle = nil
	return nil
}
