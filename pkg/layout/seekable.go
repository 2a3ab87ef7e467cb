package layout

import (
	"fmt"
	"io"
	"sort"
	"sync"

	"github.com/stellaops/mirror/pkg/errdef"
)

// Seekable reads a seekable .tar.zst or .tar.gz (as pack writes them) at
// random: it is an io.ReaderAt of the plain tar. A read decompresses from
// the start of the frame holding its first byte, so that reading in order
// (a blob, a retry from where the registry's copy ends) goes on where the
// last read stopped, with at most seekMaxIdle decoders kept for that.
type Seekable struct {
	r      io.ReaderAt
	codec  seekCodec
	frames []seekFrame
	size   int64 // of the tar

	mu   sync.Mutex
	idle []*seekCursor
}

// seekCodec is what Seekable needs of a codec: its table and its decoder.
type seekCodec struct {
	name  string // as Compression names it
	unit  string // what the codec calls a frame
	table func(r io.ReaderAt, size int64) ([]seekFrame, bool, error)
	// open starts a decoder at the start of a frame; it reads on into the
	// frames that follow.
	open func(r io.Reader) (io.Reader, func(), error)
}

// seekCursor is a decoder positioned at tar offset pos.
type seekCursor struct {
	dec   io.Reader
	close func()
	pos   int64
}

// seekMaxIdle bounds the decoders kept between reads (about a megabyte
// each for zstd, the window pack uses; less for gzip).
const seekMaxIdle = 16

// OpenSeekable opens the compressed archive r (size bytes) for random
// access. It returns ok false when the archive is not compressed or has no
// table (it can then only be read as a stream), and an error when the
// table is malformed.
func OpenSeekable(r io.ReaderAt, size int64) (z *Seekable, ok bool, err error) {
	var codec seekCodec
	switch SniffCompression(r) {
	case Zstd:
		codec = zstdFrames
	case Gzip:
		codec = gzipFrames
	default:
		return nil, false, nil
	}
	frames, ok, err := codec.table(r, size)
	if !ok || err != nil {
		return nil, ok, err
	}
	last := frames[len(frames)-1]
	return &Seekable{r: r, codec: codec, frames: frames, size: last.tarAt + last.tarN}, true, nil
}

// Size is the size of the tar.
func (z *Seekable) Size() int64 { return z.size }

// ReadAt reads tar bytes at off.
func (z *Seekable) ReadAt(p []byte, off int64) (int, error) {
	if off < 0 {
		return 0, fmt.Errorf("%s archive: negative offset %d: %w", z.codec.name, off, errdef.ErrUsage)
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
		c.close()
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
func (z *Seekable) cursor(off int64) (*seekCursor, error) {
	z.mu.Lock()
	for i, c := range z.idle {
		if c.pos == off {
			z.idle = append(z.idle[:i], z.idle[i+1:]...)
			z.mu.Unlock()
			return c, nil
		}
	}
	z.mu.Unlock()
	fr := z.frames[z.frameAt(off)]
	dec, closeDec, err := z.codec.open(io.NewSectionReader(z.r, fr.at, 1<<62))
	if err != nil {
		return nil, z.corrupt(fr, err)
	}
	c := &seekCursor{dec: dec, close: closeDec, pos: fr.tarAt}
	if skip := off - fr.tarAt; skip > 0 {
		n, err := io.CopyN(io.Discard, dec, skip)
		if err != nil {
			closeDec()
			return nil, z.decodeError(fr.tarAt+n, err)
		}
		c.pos = off
	}
	return c, nil
}

// frameAt is the index of the frame holding tar offset off (< z.size).
func (z *Seekable) frameAt(off int64) int {
	return sort.Search(len(z.frames), func(i int) bool { return z.frames[i].tarAt+z.frames[i].tarN > off })
}

// decodeError says why decoding stopped at tar offset pos: the frames ran
// out before the size the table gives, or one of them is corrupt.
func (z *Seekable) decodeError(pos int64, err error) error {
	if err == io.EOF || err == io.ErrUnexpectedEOF {
		return fmt.Errorf("%s archive: frames end at %d bytes of tar, the seek table says %d: %w", z.codec.name, pos, z.size, errdef.ErrMalformed)
	}
	// A frame's checksum fails at its end: name the frame holding the last
	// byte decoded.
	return z.corrupt(z.frames[min(z.frameAt(max(pos-1, 0)), len(z.frames)-1)], err)
}

// corrupt names the frame that failed by where it lies in the archive.
// In split volumes it hashes the volumes holding the frame: one whose
// bytes differ from the volume list is named as such (a digest mismatch,
// as verify-checksums reports it).
func (z *Seekable) corrupt(fr seekFrame, err error) error {
	where := ""
	if v, ok := z.r.(*VolumesReaderAt); ok {
		names, verr := v.CheckSpan(fr.at, fr.size)
		if verr != nil {
			return fmt.Errorf("%s archive: the %s at archive byte %d is corrupt (%v): %w", z.codec.name, z.codec.unit, fr.at, err, verr)
		}
		where = " (in " + names + ")"
	}
	return fmt.Errorf("%s archive: the %s at archive byte %d%s is corrupt (%v): %w", z.codec.name, z.codec.unit, fr.at, where, err, errdef.ErrMalformed)
}

// release keeps c for a read that goes on where it stopped.
func (z *Seekable) release(c *seekCursor) {
	z.mu.Lock()
	defer z.mu.Unlock()
	if len(z.idle) == seekMaxIdle {
		z.idle[0].close()
		z.idle = z.idle[1:]
	}
	z.idle = append(z.idle, c)
}

// Close releases the decoders (not the archive below).
func (z *Seekable) Close() error {
	z.mu.Lock()
	defer z.mu.Unlock()
	for _, c := range z.idle {
		c.close()
	}
	z.idle = nil
	return nil
}
