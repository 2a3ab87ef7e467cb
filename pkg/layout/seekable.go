package layout

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"sort"
	"sync"

	"github.com/klauspost/compress/zstd"

	"github.com/stellaops/mirror/pkg/errdef"
)

// Seekable reads a seekable .tar.zst or .tar.gz (as pack writes them) at
// random: it is an io.ReaderAt of the plain tar. A read decompresses from
// the start of the frame holding its first byte, so that reading in order
// (a blob, a retry from where the registry's copy ends) goes on where the
// last read stopped, with at most seekMaxIdle decoders kept for that.
// Each frame is decoded on its own and must end where the table says, its
// checksum checked as it ends; a read that stops in the last block of its
// frame (a tar entry's padding) decodes the rest of it, so that reading a
// blob checks every frame it lies in.
type Seekable struct {
	r      io.ReaderAt
	codec  seekCodec
	frames []seekFrame
	size   int64 // of the tar
	// end is where the archive's table ends, archive its size: bytes
	// between them were appended after the archive pack wrote.
	end, archive int64

	mu sync.Mutex
	// ended marks the frames decoded to their end and found to end there
	// (endFrame): CheckUnread decodes the others.
	ended []bool
	idle  []*seekCursor
	free  []frameDecoder // decoders whose place no read goes on from
	// sections counts the open Sections holding a decoder of their own.
	sections int
	// reading holds a token for each ReadAt under way (seekMaxReading).
	reading chan struct{}
}

// seekCodec is what Seekable needs of a codec: its table and its decoder.
type seekCodec struct {
	name string // as Compression names it
	unit string // what the codec calls a frame
	// table reads the table of an archive of size bytes and where it
	// ends (before bytes appended to the archive).
	table func(r io.ReaderAt, size int64) (frames []seekFrame, end int64, ok bool, err error)
	// open starts a decoder at the start of a frame; it reads on into the
	// frames that follow.
	open func(r io.Reader) (frameDecoder, error)
}

// frameDecoder decodes from the start of a frame on.
type frameDecoder interface {
	io.Reader
	// Reset starts it over at the start of a frame read from r, reusing
	// its buffers.
	Reset(r io.Reader) error
	Close()
}

// bufferedDecoder is a codec's decoder reading through its own buffer;
// both are reset together.
type bufferedDecoder struct {
	resetReader
	br    *bufio.Reader
	close func()
}

type resetReader interface {
	io.Reader
	Reset(r io.Reader) error
}

func (d *bufferedDecoder) Reset(r io.Reader) error {
	d.br.Reset(r)
	if err := d.resetReader.Reset(d.br); err != nil {
		return fmt.Errorf("%w: %w", err, errdef.ErrMalformed) // err: a medium's *os.PathError kept
	}
	return nil
}

func (d *bufferedDecoder) Close() { d.close() }

// seekCursor is a decoder of frame number frame, positioned at tar offset
// pos.
type seekCursor struct {
	dec   frameDecoder
	frame int
	pos   int64
}

// seekMaxIdle bounds the decoders kept between reads where they stopped,
// seekMaxFree those kept to start over elsewhere (about a megabyte each for
// zstd, the window pack uses; less for gzip).
const (
	seekMaxIdle = 16
	seekMaxFree = 4
	// seekMaxSections bounds the Sections holding a decoder of their own.
	seekMaxSections = 16
	// seekMaxReading bounds the reads through ReadAt under way at once,
	// each of which may hold a decoder beyond those kept (a megabyte or
	// more each): serve's pulls past seekMaxSections read through it, and
	// 600 slow clients of one blob held 369 MiB.
	seekMaxReading = 8
)

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
	frames, end, ok, err := codec.table(r, size)
	if !ok || err != nil {
		return nil, ok, err
	}
	last := frames[len(frames)-1]
	return &Seekable{r: r, codec: codec, frames: frames, size: last.tarAt + last.tarN, end: end, archive: size,
		ended: make([]bool, len(frames)), reading: make(chan struct{}, seekMaxReading)}, true, nil
}

// Trailing reports the bytes after the archive's table, appended to the
// archive pack wrote (its table found before them), other than zeros only
// (a tape's padding of its last record). Bytes after the tar's end within
// the frames are the TarIndex's to tell.
func (z *Seekable) Trailing() (Trailing, error) {
	if z.end == z.archive {
		return Trailing{}, nil
	}
	zeros, err := onlyZeros(io.NewSectionReader(z.r, z.end, z.archive-z.end))
	if err != nil || zeros {
		return Trailing{}, err
	}
	return Trailing{Offset: z.end, Size: z.archive - z.end, AfterTable: true}, nil
}

// Size is the size of the tar.
func (z *Seekable) Size() int64 { return z.size }

// ReadAt reads tar bytes at off. At most seekMaxReading reads are under
// way at once; the others wait their turn.
func (z *Seekable) ReadAt(p []byte, off int64) (int, error) {
	z.reading <- struct{}{}
	defer func() { <-z.reading }()
	c, n, err := z.readFrom(nil, p, off)
	if c != nil {
		z.release(c)
	}
	return n, err
}

// readFrom reads p at tar offset off with c if it stands there, else with
// a cursor taken there (c's decoder is then kept to start over elsewhere).
// It returns the cursor where the read stopped, nil after an error (its
// decoder closed).
func (z *Seekable) readFrom(c *seekCursor, p []byte, off int64) (*seekCursor, int, error) {
	if off < 0 {
		return c, 0, fmt.Errorf("%s archive: negative offset %d: %w", z.codec.name, off, errdef.ErrUsage)
	}
	if off >= z.size {
		return c, 0, io.EOF
	}
	want := p[:min(int64(len(p)), z.size-off)]
	if c == nil || c.pos != off {
		if c != nil {
			z.giveBack(c.dec)
		}
		var err error
		if c, err = z.cursor(off); err != nil {
			return nil, 0, err
		}
	}
	n, err := z.read(c, want)
	if err == nil {
		err = z.finishFrame(c)
	}
	if err != nil {
		c.dec.Close()
		return nil, n, err
	}
	if len(want) < len(p) {
		return c, n, io.EOF
	}
	return c, n, nil
}

// readsInPassing returns r for reads that look at an archive in passing
// (its magic number, the headers IndexTar reads) and a function to call
// when they are done. For a Seekable (or a type embedding one) it is a
// headerReads: through ReadAt, each entry's header would leave a decoder,
// a megabyte each for zstd, idle at its content, where no read goes on
// from.
func readsInPassing(r io.ReaderAt) (io.ReaderAt, func()) {
	z, ok := r.(interface{ seekable() *Seekable })
	if !ok {
		return r, func() {}
	}
	h := &headerReads{z: z.seekable()}
	return h, h.done
}

func (z *Seekable) seekable() *Seekable { return z }

// headerReads reads z one place at a time, with a decoder of its own that
// goes on where the last read stopped (an entry's headers follow one
// another) and is given back by done.
type headerReads struct {
	z *Seekable
	c *seekCursor
}

func (h *headerReads) ReadAt(p []byte, off int64) (int, error) {
	var n int
	var err error
	h.c, n, err = h.z.readFrom(h.c, p, off)
	return n, err
}

func (h *headerReads) done() {
	if h.c != nil {
		h.z.giveBack(h.c.dec)
		h.c = nil
	}
}

// cursor returns a decoder positioned at off: an idle one already there,
// or one started at the frame holding off and read on to it. A decoder is
// started over rather than made when one is free (or, with every idle
// slot taken, the longest idle one is): reading many small blobs does not
// allocate a decoder each.
func (z *Seekable) cursor(off int64) (*seekCursor, error) {
	z.mu.Lock()
	for i, c := range z.idle {
		if c.pos == off {
			z.idle = append(z.idle[:i], z.idle[i+1:]...)
			z.mu.Unlock()
			return c, nil
		}
	}
	var dec frameDecoder
	switch {
	case len(z.free) > 0:
		dec, z.free = z.free[len(z.free)-1], z.free[:len(z.free)-1]
	case len(z.idle) == seekMaxIdle:
		dec, z.idle = z.idle[0].dec, z.idle[1:]
	}
	z.mu.Unlock()
	i := z.frameAt(off)
	fr := z.frames[i]
	src := io.NewSectionReader(z.r, fr.at, fr.size)
	if dec != nil {
		if err := dec.Reset(src); err != nil {
			dec.Close()
			return nil, z.damaged(fr, err)
		}
	} else {
		var err error
		if dec, err = z.codec.open(src); err != nil {
			return nil, z.damaged(fr, err)
		}
	}
	c := &seekCursor{dec: dec, frame: i, pos: fr.tarAt}
	if skip := off - fr.tarAt; skip > 0 {
		n, err := io.CopyN(io.Discard, c.dec, skip)
		if err != nil {
			c.dec.Close()
			return nil, z.decodeError(fr, fr.tarAt+n, err)
		}
		c.pos = off
	}
	return c, nil
}

// read fills want from c, going on from frame to frame.
func (z *Seekable) read(c *seekCursor, want []byte) (int, error) {
	n, stalls := 0, 0
	for n < len(want) {
		fr := z.frames[c.frame]
		left := fr.tarAt + fr.tarN - c.pos
		if left == 0 {
			if err := z.endFrame(c); err != nil {
				return n, err
			}
			continue
		}
		m, err := c.dec.Read(want[n : n+int(min(int64(len(want)-n), left))])
		n += m
		c.pos += int64(m)
		switch {
		case err == io.EOF && int64(m) < left:
			return n, z.decodeError(fr, c.pos, io.ErrUnexpectedEOF)
		case err != nil && err != io.EOF:
			return n, z.decodeError(fr, c.pos, err)
		case m == 0:
			if stalls++; stalls > 100 {
				return n, z.decodeError(fr, c.pos, io.ErrNoProgress)
			}
		}
	}
	return n, nil
}

// finishFrame decodes the rest of c's frame when a read stopped within its
// last tar block (an entry's padding), so that its checksum is checked with
// the content it covers; c is then at the start of the next frame.
func (z *Seekable) finishFrame(c *seekCursor) error {
	fr := z.frames[c.frame]
	left := fr.tarAt + fr.tarN - c.pos
	if left >= blockSize {
		return nil
	}
	if left > 0 {
		m, err := io.CopyN(io.Discard, c.dec, left)
		c.pos += m
		if err != nil {
			if err == io.EOF {
				err = io.ErrUnexpectedEOF
			}
			return z.decodeError(fr, c.pos, err)
		}
	}
	return z.endFrame(c)
}

// endFrame checks that c's frame, read to the size the table gives it, is
// over (its decoder ends cleanly, the codec having checked its checksum),
// and starts c on the next frame.
func (z *Seekable) endFrame(c *seekCursor) error {
	fr := z.frames[c.frame]
	var one [1]byte
	for range 100 {
		m, err := c.dec.Read(one[:])
		switch {
		case m > 0:
			return z.corrupt(fr, fmt.Errorf("it holds more than the %d bytes the table gives it", fr.tarN))
		case err == io.EOF:
			z.mu.Lock()
			z.ended[c.frame] = true
			z.mu.Unlock()
			if c.frame+1 == len(z.frames) {
				return nil
			}
			c.frame++
			next := z.frames[c.frame]
			if err := c.dec.Reset(io.NewSectionReader(z.r, next.at, next.size)); err != nil {
				return z.damaged(next, err)
			}
			return nil
		case err != nil:
			return z.damaged(fr, err)
		}
	}
	return z.corrupt(fr, io.ErrNoProgress)
}

// CheckUnread decodes every frame no read has decoded to its end, checking
// that each holds the tar bytes the table gives it, no more, and its
// checksum. A frame is otherwise checked only when a read reaches its end:
// one holding an entry whose content nothing reads (a side file, a
// directory entry) could hide more tar past what the table gives it,
// entries that any other reader of the archive (zstd -d | tar x) sees,
// and stella would not.
func (z *Seekable) CheckUnread(ctx context.Context) error {
	buf := make([]byte, 64<<10)
	for i, fr := range z.frames {
		z.mu.Lock()
		ended := z.ended[i]
		z.mu.Unlock()
		if ended {
			continue
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		c, err := z.cursor(fr.tarAt)
		if err != nil {
			return err
		}
		for c.frame == i && err == nil {
			want := buf[:min(int64(len(buf)), fr.tarAt+fr.tarN-c.pos)]
			if len(want) == 0 {
				err = z.endFrame(c)
				break
			}
			_, err = z.read(c, want)
		}
		if err != nil {
			c.dec.Close()
			return err
		}
		z.release(c)
	}
	return nil
}

// frameAt is the index of the frame holding tar offset off (< z.size).
func (z *Seekable) frameAt(off int64) int {
	return sort.Search(len(z.frames), func(i int) bool { return z.frames[i].tarAt+z.frames[i].tarN > off })
}

// decodeError says why decoding frame fr stopped at tar offset pos: it
// ended before the size the table gives it (malformed: the table or the
// frame says otherwise than pack wrote), a limit of the decoder's was
// passed (malformed), or its content failed to decode or to match its
// checksum (damaged). fr is the frame being decoded, not the one pos lies
// in: a frame whose header is refused fails at its first read, at its
// first byte, which the frame before it does not hold.
func (z *Seekable) decodeError(fr seekFrame, pos int64, err error) error {
	if err == io.EOF || err == io.ErrUnexpectedEOF {
		return z.corrupt(fr, fmt.Errorf("it ends after %d of the %d bytes of tar the table gives it", pos-fr.tarAt, fr.tarN))
	}
	if errors.Is(err, zstd.ErrWindowSizeExceeded) || errors.Is(err, zstd.ErrDecoderSizeExceeded) || err == io.ErrNoProgress {
		return z.corrupt(fr, err)
	}
	return z.damaged(fr, err)
}

// corrupt says a frame is not one a seekable archive holds (more tar than
// the table gives it, a window larger than stella decodes): malformed. A
// header its decoder refuses, at a place the table gives a frame, is
// damage: a gzip member's is found as it is opened, a zstd frame's at its
// first read.
func (z *Seekable) corrupt(fr seekFrame, err error) error {
	return z.frameError(fr, err, errdef.ErrMalformed, "")
}

// damaged says a frame's content fails to decode, or its checksum (zstd's
// XXH64, gzip's CRC-32) fails: its bytes were altered on the media, a
// digest mismatch, as a blob's in a plain tar would be.
func (z *Seekable) damaged(fr seekFrame, err error) error {
	return z.frameError(fr, err, errdef.ErrDigestMismatch, ": the archive was altered or damaged on the media, get a fresh copy")
}

// frameError names the frame that failed by where it lies in the archive,
// wrapping kind. In split volumes it hashes the volumes holding the frame:
// one whose bytes differ from the volume list is named as such (a digest
// mismatch, as verify-checksums reports it).
func (z *Seekable) frameError(fr seekFrame, err, kind error, advice string) error {
	// A read of the medium that failed (EIO) is no fault of the frame's:
	// kept, for the callers to tell as the medium's.
	var pe *os.PathError
	if errors.As(err, &pe) {
		return fmt.Errorf("%s archive: the %s at archive byte %d: %w", z.codec.name, z.codec.unit, fr.at, pe)
	}
	where := ""
	if v, ok := z.r.(*VolumesReaderAt); ok {
		names, verr := v.CheckSpan(fr.at, fr.size)
		if verr != nil {
			return &FrameError{fmt.Errorf("%s archive: the %s at archive byte %d is corrupt (%v): %w", z.codec.name, z.codec.unit, fr.at, err, verr)}
		}
		where = " (in " + names + ")"
	}
	return &FrameError{fmt.Errorf("%s archive: the %s at archive byte %d%s is corrupt (%v)%s: %w", z.codec.name, z.codec.unit, fr.at, where, err, advice, kind)}
}

// FrameError reports a frame of a seekable archive that fails to decode or
// to check out: the archive's fault, wrapping errdef.ErrDigestMismatch or
// errdef.ErrMalformed. A caller sending what it reads (an upload, whose
// HTTP transport reports a failed body as its own) finds it with
// errors.As, to name the archive instead of where the bytes were going.
type FrameError struct{ err error }

// Error implements error.
func (e *FrameError) Error() string { return e.err.Error() }

// Unwrap returns what the frame's fault wraps.
func (e *FrameError) Unwrap() error { return e.err }

// release keeps c for a read that goes on where it stopped. A cursor at
// the start of a frame (a read that ended with its entry, as every small
// blob's does) or at the end of the archive saves the next read nothing,
// so only its decoder is kept, to start over elsewhere: many small blobs
// do not fill the idle slots with a decoder each.
func (z *Seekable) release(c *seekCursor) {
	z.mu.Lock()
	defer z.mu.Unlock()
	if c.pos == z.frames[c.frame].tarAt || c.pos == z.size {
		z.keepFree(c.dec)
		return
	}
	if len(z.idle) == seekMaxIdle {
		z.keepFree(z.idle[0].dec)
		z.idle = z.idle[1:]
	}
	z.idle = append(z.idle, c)
}

// giveBack is keepFree for a caller not holding z.mu.
func (z *Seekable) giveBack(dec frameDecoder) {
	z.mu.Lock()
	defer z.mu.Unlock()
	z.keepFree(dec)
}

// keepFree keeps dec to start over elsewhere, or closes it when enough
// are kept. z.mu is held.
func (z *Seekable) keepFree(dec frameDecoder) {
	if len(z.free) < seekMaxFree {
		z.free = append(z.free, dec)
		return
	}
	dec.Close()
}

// Close releases the decoders (not the archive below).
func (z *Seekable) Close() error {
	z.mu.Lock()
	defer z.mu.Unlock()
	for _, c := range z.idle {
		c.dec.Close()
	}
	for _, dec := range z.free {
		dec.Close()
	}
	z.idle, z.free = nil, nil
	return nil
}

// Section returns the n tar bytes at off (a blob) for a reader that goes
// on where it stopped, a serve client's or an upload's: it reads with a
// decoder of its own, kept where its last read stopped whatever other
// readers do. Through ReadAt, all readers share seekMaxIdle parked
// decoders, and with more readers going on at once than that each read
// lost its place and decoded its frame again from the start (32x the bytes
// delivered for 32 serve pulls at once). At most seekMaxSections hold a
// decoder; beyond that, and for a read while another of its reads is under
// way, a Section reads through ReadAt. Close gives its decoder back.
func (z *Seekable) Section(off, n int64) *SeekableSection {
	s := &SeekableSection{z: z, off: off, n: n}
	z.mu.Lock()
	if z.sections < seekMaxSections {
		z.sections++
		s.own = true
	}
	z.mu.Unlock()
	return s
}

// SeekableSection is a Section of a Seekable.
type SeekableSection struct {
	z      *Seekable
	off, n int64
	mu     sync.Mutex
	c      *seekCursor
	own    bool // holds one of the seekMaxSections
}

// Size is the section's length.
func (s *SeekableSection) Size() int64 { return s.n }

// ReadAt reads the section's bytes at off, as io.SectionReader does.
func (s *SeekableSection) ReadAt(p []byte, off int64) (int, error) {
	if off < 0 || off >= s.n {
		return 0, io.EOF
	}
	var end error
	if int64(len(p)) > s.n-off {
		p, end = p[:s.n-off], io.EOF
	}
	if !s.own || !s.mu.TryLock() {
		n, err := s.z.ReadAt(p, s.off+off)
		if err == nil {
			err = end
		}
		return n, err
	}
	defer s.mu.Unlock()
	var n int
	var err error
	s.c, n, err = s.z.readFrom(s.c, p, s.off+off)
	if s.c != nil && s.c.pos >= s.off+s.n {
		// Read to its end (a small blob in one read; the decoder may have
		// gone on into the next frame, past the padding): no read goes on
		// from here, and an upload may hold the section a while yet.
		s.z.giveBack(s.c.dec)
		s.c = nil
	}
	if err == nil {
		err = end
	}
	return n, err
}

// Close gives the section's decoder back; later reads go through ReadAt.
func (s *SeekableSection) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.z.mu.Lock()
	defer s.z.mu.Unlock()
	if s.c != nil {
		s.z.keepFree(s.c.dec)
		s.c = nil
	}
	if s.own {
		s.z.sections--
		s.own = false
	}
	return nil
}
