package layout

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"fmt"
	"io"

	"github.com/klauspost/compress/gzip"

	"github.com/stellaops/mirror/pkg/errdef"
)

// A .tar.gz's table lies in empty gzip members after the last member of
// tar (gzip decoders read each as nothing), in the extra field (RFC 1952,
// FEXTRA) of each, subfield "SM":
//
//	1f 8b 08 04 | mtime 0 | xfl 0 | os ff | XLEN | 'S' 'M' | LEN | payload | 03 00 | crc 0 | size 0
//
// The payloads, in order, list each member of tar as two little-endian
// uint32s (compressed size, tar bytes); the last payload ends with a
// footer: the table's size in bytes (all its members), the number of
// members of tar, and gzipTableMagic. An extra field holds at most 64 KiB,
// so a long table takes several members. The footer lies at a fixed
// distance from the archive's end, where a reader finds it.

const (
	gzipTableMagic     = 0x5EEC7AB1
	gzipFooterSize     = 12
	gzipTableMember    = 26 // the bytes of a table member around its payload
	gzipMemberTrailer  = "\x03\x00\x00\x00\x00\x00\x00\x00\x00\x00"
	gzipMaxPayload     = 0xffff - 4 // XLEN holds the subfield's 4-byte header too
	gzipTableMinLength = gzipTableMember + 8 + gzipFooterSize
)

// gzipEntriesPerMember is how many members of tar one table member lists.
var gzipEntriesPerMember = (gzipMaxPayload - gzipFooterSize) / 8

func newFramedGzipWriter(w io.Writer) (*framedWriter, error) {
	f := &framedWriter{out: countingWriter{w: w}, table: gzipSeekTable}
	// Layers are already compressed: the fastest level costs little in size
	// and keeps pack from being CPU-bound.
	enc, err := gzip.NewWriterLevel(&f.out, gzip.BestSpeed)
	if err != nil {
		return nil, err
	}
	f.enc = enc
	return f, nil
}

// gzipSeekTable is the table members listing the members of tar.
func gzipSeekTable(frames [][2]uint32) []byte {
	var payloads [][]byte
	for i := 0; i < len(frames); i += gzipEntriesPerMember {
		var p []byte
		for _, fr := range frames[i:min(i+gzipEntriesPerMember, len(frames))] {
			p = binary.LittleEndian.AppendUint32(p, fr[0])
			p = binary.LittleEndian.AppendUint32(p, fr[1])
		}
		payloads = append(payloads, p)
	}
	last := len(payloads) - 1
	size := len(payloads)*gzipTableMember + 8*len(frames) + gzipFooterSize
	payloads[last] = binary.LittleEndian.AppendUint32(payloads[last], uint32(size))
	payloads[last] = binary.LittleEndian.AppendUint32(payloads[last], uint32(len(frames)))
	payloads[last] = binary.LittleEndian.AppendUint32(payloads[last], gzipTableMagic)
	out := make([]byte, 0, size)
	for _, p := range payloads {
		out = append(out, gzipTableHeader(len(p))...)
		out = append(out, p...)
		out = append(out, gzipMemberTrailer...)
	}
	return out
}

// gzipTableHeader is a table member's bytes before a payload of n bytes.
func gzipTableHeader(n int) []byte {
	h := []byte{0x1f, 0x8b, 8, 4, 0, 0, 0, 0, 0, 0xff}
	h = binary.LittleEndian.AppendUint16(h, uint16(n+4))
	h = append(h, 'S', 'M')
	return binary.LittleEndian.AppendUint16(h, uint16(n))
}

// readGzipSeekTable reads the table at the end of the gzip archive r (size
// bytes). It returns ok false when the archive has none (a .tar.gz written
// by another tool), and an error when it has one that does not describe
// the archive exactly.
func readGzipSeekTable(r io.ReaderAt, size int64) (frames []seekFrame, ok bool, err error) {
	if size < gzipTableMinLength {
		return nil, false, nil
	}
	tail := make([]byte, gzipFooterSize+len(gzipMemberTrailer))
	if _, err := r.ReadAt(tail, size-int64(len(tail))); err != nil {
		return nil, false, err
	}
	if string(tail[gzipFooterSize:]) != gzipMemberTrailer || binary.LittleEndian.Uint32(tail[8:]) != gzipTableMagic {
		return nil, false, nil
	}
	tableSize := int64(binary.LittleEndian.Uint32(tail[0:]))
	n := int64(binary.LittleEndian.Uint32(tail[4:]))
	if n == 0 || n > maxFrames || tableSize < gzipTableMinLength || tableSize > size || tableSize > 2*gzipTableMember*n+8*n+gzipFooterSize {
		return nil, true, tableError("gzip", "%d members in a %d-byte table of a %d-byte archive", n, tableSize, size)
	}
	table := make([]byte, tableSize)
	if _, err := r.ReadAt(table, size-tableSize); err != nil {
		return nil, true, err
	}
	var entries []byte
	for rest := table; len(rest) > 0; {
		if len(rest) < gzipTableMember {
			return nil, true, tableError("gzip", "a table member is cut short")
		}
		p := int(binary.LittleEndian.Uint16(rest[14:]))
		if len(rest) < gzipTableMember+p || !bytes.Equal(rest[:16], gzipTableHeader(p)) || string(rest[16+p:gzipTableMember+p]) != gzipMemberTrailer {
			return nil, true, tableError("gzip", "table member at archive byte %d is not one", size-int64(len(rest)))
		}
		entries = append(entries, rest[16:16+p]...)
		rest = rest[gzipTableMember+p:]
	}
	entries = entries[:max(len(entries)-gzipFooterSize, 0)]
	if int64(len(entries)) != 8*n {
		return nil, true, tableError("gzip", "the table lists %d bytes of members, its footer says %d members", len(entries), n)
	}
	sizes := make([][2]uint32, n)
	for i := range sizes {
		sizes[i] = [2]uint32{binary.LittleEndian.Uint32(entries[8*i:]), binary.LittleEndian.Uint32(entries[8*i+4:])}
	}
	frames, err = tileFrames("gzip", sizes, size-tableSize)
	return frames, true, err
}

// gzipFrames reads a seekable .tar.gz's members.
var gzipFrames = seekCodec{
	name: "gzip", unit: "member", table: func(r io.ReaderAt, size int64) ([]seekFrame, int64, bool, error) {
		return findSeekTable(r, size, readGzipSeekTable, []byte(gzipTableMarker), gzipFooterSize+len(gzipMemberTrailer), probeGzipTable)
	},
	open: func(r io.Reader) (frameDecoder, error) {
		br := bufio.NewReaderSize(r, 128<<10)
		dec, err := gzip.NewReader(br)
		if err != nil {
			return nil, fmt.Errorf("%w: %w", err, errdef.ErrMalformed) // err: a medium's *os.PathError kept
		}
		return &bufferedDecoder{resetReader: dec, br: br, close: func() { dec.Close() }}, nil
	},
}

// gzipTableMarker is the bytes every table ends with: its magic and the
// last member's trailer.
var gzipTableMarker = string(binary.LittleEndian.AppendUint32(nil, gzipTableMagic)) + gzipMemberTrailer

// probeGzipTable checks cheaply whether the table whose footer is foot
// (its last bytes, marker included) may end at end: its sizes in bounds
// and a table member's header where it starts.
func probeGzipTable(r io.ReaderAt, foot []byte, end int64) (bool, error) {
	tableSize := int64(binary.LittleEndian.Uint32(foot[0:]))
	n := int64(binary.LittleEndian.Uint32(foot[4:]))
	if n == 0 || n > maxFrames || tableSize < gzipTableMinLength || tableSize > end || tableSize > 2*gzipTableMember*n+8*n+gzipFooterSize {
		return false, nil
	}
	var head [16]byte
	if _, err := r.ReadAt(head[:], end-tableSize); err != nil {
		return false, err
	}
	return bytes.Equal(head[:], gzipTableHeader(int(binary.LittleEndian.Uint16(head[14:])))), nil
}
