package layout

import (
	"bytes"
	"fmt"
	"io"

	"github.com/stellaops/mirror/pkg/errdef"
)

// A bundle's compressed archive (.tar.zst, .tar.gz) is written as
// independent frames (zstd frames, gzip members), each starting at a tar
// entry or every frameSize bytes of tar, and ends with a table of the
// frames in a form every decoder of the codec reads as nothing (a zstd
// skippable frame, empty gzip members with an extra field). To any
// decoder the archive is the one plain tar it holds; with the table it can
// be read at random (Seekable): import reads and uploads its blobs in
// parallel, and serve serves it, as for a plain tar.

// frameSize is the most tar bytes one frame holds: a read at random
// decompresses at most this much before the bytes it wants.
const frameSize = 4 << 20

// maxFrames bounds the table a reader accepts (16 TiB of tar in frames of
// 4 MiB).
const maxFrames = 1 << 22

// frameEncoder is a codec's writer that ends a frame on Close and starts
// the next one after Reset.
type frameEncoder interface {
	io.WriteCloser
	Reset(io.Writer)
}

// framedWriter compresses into frames of at most frameSize tar bytes,
// ending a frame early at each EndFrame, and writes the codec's table of
// the frames on Close. Output is deterministic for the same input and
// calls.
type framedWriter struct {
	out    countingWriter
	enc    frameEncoder
	table  func(frames [][2]uint32) []byte // the codec's table of (compressed, tar) sizes
	n      int64                           // tar bytes in the current frame
	start  int64                           // where the current frame starts in the output
	frames [][2]uint32
}

type countingWriter struct {
	w io.Writer
	n int64
}

func (c *countingWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.n += int64(n)
	return n, err
}

func (f *framedWriter) Write(p []byte) (int, error) {
	written := 0
	for len(p) > 0 {
		n, err := f.enc.Write(p[:min(int64(len(p)), frameSize-f.n)])
		f.n += int64(n)
		written += n
		p = p[n:]
		if err != nil {
			return written, err
		}
		if f.n == frameSize {
			if err := f.EndFrame(); err != nil {
				return written, err
			}
		}
	}
	return written, nil
}

// EndFrame ends the current frame, if it holds anything: the next byte
// starts a frame of its own.
func (f *framedWriter) EndFrame() error {
	if f.n == 0 {
		return nil
	}
	if err := f.enc.Close(); err != nil {
		return err
	}
	f.frames = append(f.frames, [2]uint32{uint32(f.out.n - f.start), uint32(f.n)})
	f.start, f.n = f.out.n, 0
	f.enc.Reset(&f.out)
	return nil
}

// Close ends the last frame and writes the table.
func (f *framedWriter) Close() error {
	if err := f.EndFrame(); err != nil {
		return err
	}
	_, err := f.out.Write(f.table(f.frames))
	return err
}

// seekFrame is one frame of a seekable archive.
type seekFrame struct {
	at, size    int64 // where the frame lies in the archive
	tarAt, tarN int64 // the tar bytes it holds
}

// tileFrames turns a table's (compressed, tar) sizes into frames, which
// must tile the archive exactly from its first byte to end, where the
// table starts.
func tileFrames(codec string, sizes [][2]uint32, end int64) ([]seekFrame, error) {
	frames := make([]seekFrame, len(sizes))
	var at, tarAt int64
	for i, s := range sizes {
		fr := seekFrame{at: at, size: int64(s[0]), tarAt: tarAt, tarN: int64(s[1])}
		if fr.size == 0 || fr.tarN == 0 || fr.tarN > 1<<30 {
			return nil, tableError(codec, "frame %d: %d bytes holding %d", i, fr.size, fr.tarN)
		}
		frames[i] = fr
		at += fr.size
		tarAt += fr.tarN
	}
	if at != end {
		return nil, tableError(codec, "frames cover %d bytes, the archive has %d before the table", at, end)
	}
	return frames, nil
}

// tableError says a codec's seek table is malformed.
func tableError(codec, format string, a ...any) error {
	return fmt.Errorf("%s seek table: %s: %w", codec, fmt.Sprintf(format, a...), errdef.ErrMalformed)
}

// maxAppendedScan bounds the tail searched for a .tar.zst's or .tar.gz's
// seek table when the archive does not end in it: bytes appended to pack's
// archive (a copy tool's, cat >> FILE) leave the table before them. A
// hostile tail full of footers costs a small read for each, and only the
// first whose header checks out has its table read.
const maxAppendedScan = 64 << 10

// maxZeroPadding bounds the zeros passed over at an archive's end before
// the search for its seek table: a block's padding (dd conv=sync with a
// block of up to 16 MiB, a tape's last record).
const maxZeroPadding = 16 << 20

// findSeekTable reads the table of the archive r (size bytes) with read:
// at its end, or, where the archive does not end in one, the last within
// maxAppendedScan of its end (zeros that end it passed over, up to
// maxZeroPadding of them) that ends in marker, passes probe (given its
// last footer bytes) and tiles the archive before it; end is where that
// table ends (size, unless bytes were appended). ok is false when it has
// none, and err set when the table at its end does not describe the
// archive exactly.
func findSeekTable(r io.ReaderAt, size int64, read func(io.ReaderAt, int64) ([]seekFrame, bool, error), marker []byte, footer int,
	probe func(r io.ReaderAt, foot []byte, end int64) (bool, error)) (frames []seekFrame, end int64, ok bool, err error) {
	frames, ok, err = read(r, size)
	if ok || err != nil || size < int64(footer) {
		return frames, size, ok, err
	}
	// The search ends where zeros appended begin, or a marker's length
	// after: a table's last bytes may be zeros themselves.
	stop, err := endBeforeZeros(r, size)
	if err != nil {
		return nil, 0, false, err
	}
	stop = min(size, stop+int64(len(marker)))
	tail := make([]byte, min(stop, maxAppendedScan))
	tailAt := stop - int64(len(tail))
	if _, err := r.ReadAt(tail, tailAt); err != nil {
		return nil, 0, false, err
	}
	for lim := len(tail); ; {
		i := bytes.LastIndex(tail[:lim], marker)
		e := i + len(marker)
		if i < 0 || e < footer {
			return nil, 0, false, nil
		}
		lim = e - 1
		end := tailAt + int64(e)
		if ok, err := probe(r, tail[e-footer:e], end); err != nil {
			return nil, 0, false, err
		} else if !ok {
			continue
		}
		// The one table read in full: a table that does not tile the
		// archive is not pack's, and the archive is read as a stream.
		frames, ok, err := read(r, end)
		if !ok || err != nil {
			return nil, 0, false, nil
		}
		return frames, end, true, nil
	}
}

// endBeforeZeros is where the zeros that end r (size bytes) begin: size
// where it ends in no zero, or in maxZeroPadding of them or more.
func endBeforeZeros(r io.ReaderAt, size int64) (int64, error) {
	buf := make([]byte, min(size, maxAppendedScan))
	for at := size; at > 0 && size-at < maxZeroPadding; {
		chunk := buf[:min(at, int64(len(buf)))]
		at -= int64(len(chunk))
		if _, err := r.ReadAt(chunk, at); err != nil {
			return 0, err
		}
		for i := len(chunk) - 1; i >= 0; i-- {
			if chunk[i] != 0 {
				return at + int64(i) + 1, nil
			}
		}
	}
	return size, nil
}
