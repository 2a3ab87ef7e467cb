package layout

import (
	"encoding/binary"
	"fmt"
	"io"

	"github.com/klauspost/compress/zstd"

	"github.com/stellaops/mirror/pkg/errdef"
)

// A bundle's .tar.zst is written as independent zstd frames, each starting
// at a tar entry or every zstdFrameSize bytes of tar, followed by a seek
// table in zstd's seekable format (a skippable frame, so every zstd
// decoder reads the archive as the one plain tar it is). With the table, the
// archive can be read at random (ZstdSeekable): import reads and uploads its
// blobs in parallel, and serve serves it, as for a plain tar.

// zstdFrameSize is the most tar bytes one frame holds: a read at random
// decompresses at most this much before the bytes it wants.
const zstdFrameSize = 4 << 20

// zstdWindow is the encoder's window. Layers are compressed already, so a
// larger one gains nothing, and it bounds each random reader's memory.
const zstdWindow = 1 << 20

const (
	skippableSeekMagic = 0x184D2A5E
	seekableMagic      = 0x8F92EAB1
	seekFooterSize     = 9
)

// framedZstdWriter compresses into zstd frames of at most zstdFrameSize
// tar bytes, ending a frame early at each EndFrame, and writes the seek
// table on Close. Output is deterministic for the same input and calls.
type framedZstdWriter struct {
	out    countingWriter
	enc    *zstd.Encoder
	n      int64 // tar bytes in the current frame
	start  int64 // where the current frame starts in the output
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

func newFramedZstdWriter(w io.Writer) (*framedZstdWriter, error) {
	f := &framedZstdWriter{out: countingWriter{w: w}}
	enc, err := zstd.NewWriter(&f.out, zstd.WithEncoderLevel(zstd.SpeedFastest), zstd.WithEncoderConcurrency(2), zstd.WithWindowSize(zstdWindow))
	if err != nil {
		return nil, err
	}
	f.enc = enc
	return f, nil
}

func (f *framedZstdWriter) Write(p []byte) (int, error) {
	written := 0
	for len(p) > 0 {
		n, err := f.enc.Write(p[:min(int64(len(p)), zstdFrameSize-f.n)])
		f.n += int64(n)
		written += n
		p = p[n:]
		if err != nil {
			return written, err
		}
		if f.n == zstdFrameSize {
			if err := f.EndFrame(); err != nil {
				return written, err
			}
		}
	}
	return written, nil
}

// EndFrame ends the current frame, if it holds anything: the next byte
// starts a frame of its own.
func (f *framedZstdWriter) EndFrame() error {
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

// Close ends the last frame and writes the seek table.
func (f *framedZstdWriter) Close() error {
	if err := f.EndFrame(); err != nil {
		return err
	}
	table := make([]byte, 8, 8+8*len(f.frames)+seekFooterSize)
	binary.LittleEndian.PutUint32(table[0:], skippableSeekMagic)
	binary.LittleEndian.PutUint32(table[4:], uint32(8*len(f.frames)+seekFooterSize))
	for _, fr := range f.frames {
		table = binary.LittleEndian.AppendUint32(table, fr[0])
		table = binary.LittleEndian.AppendUint32(table, fr[1])
	}
	table = binary.LittleEndian.AppendUint32(table, uint32(len(f.frames)))
	table = append(table, 0) // descriptor: no checksums
	table = binary.LittleEndian.AppendUint32(table, seekableMagic)
	_, err := f.out.Write(table)
	return err
}

// zstdFrame is one frame of a seekable archive.
type zstdFrame struct {
	at, size    int64 // where the frame lies in the archive
	tarAt, tarN int64 // the tar bytes it holds
}

// maxZstdFrames bounds the seek table a reader accepts (16 TiB of tar in
// frames of 4 MiB).
const maxZstdFrames = 1 << 22

// readSeekTable reads the seek table at the end of the zstd archive r (size
// bytes). It returns ok false when the archive has none (a .tar.zst written
// by another tool), and an error when it has one that does not describe the
// archive exactly: frames tiling it from its first byte to the table.
func readSeekTable(r io.ReaderAt, size int64) (frames []zstdFrame, ok bool, err error) {
	if size < 8+seekFooterSize {
		return nil, false, nil
	}
	var foot [seekFooterSize]byte
	if _, err := r.ReadAt(foot[:], size-seekFooterSize); err != nil {
		return nil, false, err
	}
	if binary.LittleEndian.Uint32(foot[5:]) != seekableMagic {
		return nil, false, nil
	}
	malformed := func(format string, a ...any) error {
		return fmt.Errorf("zstd seek table: %s: %w", fmt.Sprintf(format, a...), errdef.ErrMalformed)
	}
	n := int64(binary.LittleEndian.Uint32(foot[0:]))
	if foot[4] != 0 {
		return nil, true, malformed("descriptor %#x not supported", foot[4])
	}
	tableSize := 8 + 8*n + seekFooterSize
	if n == 0 || n > maxZstdFrames || tableSize > size {
		return nil, true, malformed("%d frames in a %d-byte archive", n, size)
	}
	table := make([]byte, tableSize)
	if _, err := r.ReadAt(table, size-tableSize); err != nil {
		return nil, true, err
	}
	if binary.LittleEndian.Uint32(table[0:]) != skippableSeekMagic || int64(binary.LittleEndian.Uint32(table[4:])) != 8*n+seekFooterSize {
		return nil, true, malformed("not a skippable frame of the right size")
	}
	frames = make([]zstdFrame, n)
	var at, tarAt int64
	for i := range frames {
		e := table[8+8*i:]
		fr := zstdFrame{at: at, size: int64(binary.LittleEndian.Uint32(e[0:])), tarAt: tarAt, tarN: int64(binary.LittleEndian.Uint32(e[4:]))}
		if fr.size == 0 || fr.tarN == 0 || fr.tarN > 1<<30 {
			return nil, true, malformed("frame %d: %d bytes holding %d", i, fr.size, fr.tarN)
		}
		frames[i] = fr
		at += fr.size
		tarAt += fr.tarN
	}
	if at != size-tableSize {
		return nil, true, malformed("frames cover %d bytes, the archive has %d before the table", at, size-tableSize)
	}
	return frames, true, nil
}
