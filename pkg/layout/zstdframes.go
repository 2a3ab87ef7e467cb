package layout

import (
	"bufio"
	"encoding/binary"
	"fmt"
	"io"

	"github.com/klauspost/compress/zstd"

	"github.com/stellaops/mirror/pkg/errdef"
)

// A .tar.zst's table is a seek table in zstd's seekable format: a
// skippable frame listing each frame's compressed and decompressed sizes.

// zstdWindow is the encoder's window. Layers are compressed already, so a
// larger one gains nothing, and it bounds each random reader's memory.
const zstdWindow = 1 << 20

// zstdSeekMaxWindow bounds the window a frame of a seekable archive may ask
// its decoder for: pack's use 1 MiB, and with many readers at once a hostile
// archive must not make each hold the 64 MiB a stream may use.
const zstdSeekMaxWindow = 8 << 20

const (
	skippableSeekMagic = 0x184D2A5E
	seekableMagic      = 0x8F92EAB1
	seekFooterSize     = 9
)

func newFramedZstdWriter(w io.Writer) (*framedWriter, error) {
	f := &framedWriter{out: countingWriter{w: w}, table: zstdSeekTable}
	enc, err := zstd.NewWriter(&f.out, zstd.WithEncoderLevel(zstd.SpeedFastest), zstd.WithEncoderConcurrency(2), zstd.WithWindowSize(zstdWindow))
	if err != nil {
		return nil, err
	}
	f.enc = enc
	return f, nil
}

// zstdSeekTable is the skippable frame listing the frames.
func zstdSeekTable(frames [][2]uint32) []byte {
	table := make([]byte, 8, 8+8*len(frames)+seekFooterSize)
	binary.LittleEndian.PutUint32(table[0:], skippableSeekMagic)
	binary.LittleEndian.PutUint32(table[4:], uint32(8*len(frames)+seekFooterSize))
	for _, fr := range frames {
		table = binary.LittleEndian.AppendUint32(table, fr[0])
		table = binary.LittleEndian.AppendUint32(table, fr[1])
	}
	table = binary.LittleEndian.AppendUint32(table, uint32(len(frames)))
	table = append(table, 0) // descriptor: no checksums
	return binary.LittleEndian.AppendUint32(table, seekableMagic)
}

// readZstdSeekTable reads the seek table at the end of the zstd archive r
// (size bytes). It returns ok false when the archive has none (a .tar.zst
// written by another tool), and an error when it has one that does not
// describe the archive exactly.
func readZstdSeekTable(r io.ReaderAt, size int64) (frames []seekFrame, ok bool, err error) {
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
	n := int64(binary.LittleEndian.Uint32(foot[0:]))
	if foot[4] != 0 {
		return nil, true, tableError("zstd", "descriptor %#x not supported", foot[4])
	}
	tableSize := 8 + 8*n + seekFooterSize
	if n == 0 || n > maxFrames || tableSize > size {
		return nil, true, tableError("zstd", "%d frames in a %d-byte archive", n, size)
	}
	table := make([]byte, tableSize)
	if _, err := r.ReadAt(table, size-tableSize); err != nil {
		return nil, true, err
	}
	if binary.LittleEndian.Uint32(table[0:]) != skippableSeekMagic || int64(binary.LittleEndian.Uint32(table[4:])) != 8*n+seekFooterSize {
		return nil, true, tableError("zstd", "not a skippable frame of the right size")
	}
	sizes := make([][2]uint32, n)
	for i := range sizes {
		e := table[8+8*i:]
		sizes[i] = [2]uint32{binary.LittleEndian.Uint32(e[0:]), binary.LittleEndian.Uint32(e[4:])}
	}
	frames, err = tileFrames("zstd", sizes, size-tableSize)
	return frames, true, err
}

// findZstdSeekTable reads the seek table of the zstd archive r (size
// bytes), at its end or before bytes appended to it (findSeekTable).
func findZstdSeekTable(r io.ReaderAt, size int64) ([]seekFrame, int64, bool, error) {
	return findSeekTable(r, size, readZstdSeekTable, binary.LittleEndian.AppendUint32(nil, seekableMagic), seekFooterSize, probeZstdTable)
}

// probeZstdTable checks cheaply whether the seek table whose footer is
// foot may end at end: its frame count in bounds and its skippable frame's
// magic and size where it starts.
func probeZstdTable(r io.ReaderAt, foot []byte, end int64) (bool, error) {
	n := int64(binary.LittleEndian.Uint32(foot[0:]))
	tableSize := 8 + 8*n + seekFooterSize
	if foot[4] != 0 || n == 0 || n > maxFrames || tableSize > end {
		return false, nil
	}
	var head [8]byte
	if _, err := r.ReadAt(head[:], end-tableSize); err != nil {
		return false, err
	}
	return binary.LittleEndian.Uint32(head[0:]) == skippableSeekMagic && int64(binary.LittleEndian.Uint32(head[4:])) == 8*n+seekFooterSize, nil
}

// zstdFrames reads a seekable .tar.zst's frames.
var zstdFrames = seekCodec{
	name: "zstd", unit: "frame", table: findZstdSeekTable,
	open: func(r io.Reader) (frameDecoder, error) {
		br := bufio.NewReaderSize(r, 128<<10)
		dec, err := zstd.NewReader(br,
			zstd.WithDecoderConcurrency(1), zstd.WithDecoderLowmem(true),
			zstd.WithDecoderMaxWindow(zstdSeekMaxWindow), zstd.WithDecoderMaxMemory(2*zstdSeekMaxWindow))
		if err != nil {
			return nil, fmt.Errorf("%w: %w", err, errdef.ErrMalformed) // err: a medium's *os.PathError kept
		}
		return &bufferedDecoder{resetReader: dec, br: br, close: dec.Close}, nil
	},
}
