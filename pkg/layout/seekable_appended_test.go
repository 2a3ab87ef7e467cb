package layout

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"
)

// TestZstdSeekTableBeforeAppendedBytes: a .tar.zst pack wrote with bytes
// appended after its seek table (a copy tool's, cat >> FILE) is read at
// random through that table, found before them within
// maxAppendedScan of the end, the bytes told by Trailing with where
// the archive pack wrote ends; zeros appended (a tape's padding) are not
// told. It was taken for another tool's archive, without a table, which
// serve refuses. Past the bound, or where what ends in a footer's magic is
// not a table that tiles the archive, it has no table (read as a stream),
// and a tail full of footers costs reads of a few bytes each.
func TestZstdSeekTableBeforeAppendedBytes(t *testing.T) {
	plain, framed := framedTar(t, Zstd, testSizes)
	checkAppended(t, plain, framed, []appendedCase{
		{"junk appended", []byte("JUNK"), Trailing{Size: 4, AfterTable: true}},
		{"junk and zeros appended", append([]byte("JUNK"), make([]byte, 10240)...), Trailing{Size: 10244, AfterTable: true}},
		{"zeros appended", make([]byte, 10240), Trailing{}},
		{"a footer's worth appended", bytes.Repeat([]byte{0xB1}, seekFooterSize), Trailing{Size: seekFooterSize, AfterTable: true}},
	})

	// A footer's magic whose table does not tile the archive: none.
	lying := bytes.Clone(framed)
	binary.LittleEndian.PutUint32(lying[len(lying)-(8+8*int(binary.LittleEndian.Uint32(lying[len(lying)-9:]))+seekFooterSize)+8:], 1)
	checkNoTable(t, "a table that does not tile, then junk", append(lying, "JUNK"...))
	// A tail of footers claiming tables: each costs a read of its header.
	var hostile bytes.Buffer
	hostile.Write(framed[:len(framed)/2])
	for hostile.Len() < len(framed)/2+maxAppendedScan {
		binary.Write(&hostile, binary.LittleEndian, []uint32{uint32(len(framed)/2/8 - 100)})
		hostile.WriteByte(0)
		binary.Write(&hostile, binary.LittleEndian, []uint32{seekableMagic})
	}
	hostile.WriteString("JUNK")
	checkNoTable(t, "a tail of footers", hostile.Bytes())
}

// TestGzipSeekTableBeforeAppendedBytes: a .tar.gz pack wrote with bytes
// appended after its table (a copy tool's padding, cat >> FILE) is read at
// random through that table, found before them within maxAppendedScan of
// the end, as a .tar.zst's is: the bytes told by Trailing with where the
// archive pack wrote ends, zeros appended (a tape's padding) not told. Its
// table was looked for only at the very end: the archive was taken for
// another tool's, without a table, which serve refuses and import, push
// and verify read as a stream. Past the bound, or where what ends in a
// table's footer is not a table that tiles the archive, it has no table,
// and a tail full of footers costs reads of a few bytes each.
func TestGzipSeekTableBeforeAppendedBytes(t *testing.T) {
	plain, framed := framedTar(t, Gzip, testSizes)
	junk := make([]byte, 1000)
	for i, rng := 0, rand.New(rand.NewPCG(3, 4)); i < len(junk); i++ {
		junk[i] = byte(rng.Uint32())
	}
	footer := gzipFooterSize + len(gzipMemberTrailer)
	checkAppended(t, plain, framed, []appendedCase{
		{"random bytes appended", junk, Trailing{Size: 1000, AfterTable: true}},
		{"junk and zeros appended", append([]byte("JUNK"), make([]byte, 10240)...), Trailing{Size: 10244, AfterTable: true}},
		{"zeros appended", make([]byte, 512), Trailing{}},
		{"a footer's worth appended", bytes.Repeat([]byte{0xB1}, footer), Trailing{Size: int64(footer), AfterTable: true}},
	})

	// A footer whose table does not tile the archive (its first member's
	// compressed size made 1): none.
	lying := bytes.Clone(framed)
	tableSize := int(binary.LittleEndian.Uint32(lying[len(lying)-footer:]))
	binary.LittleEndian.PutUint32(lying[len(lying)-tableSize+16:], 1)
	checkNoTable(t, "a table that does not tile, then junk", append(lying, "JUNK"...))
	// A tail of footers claiming tables: each costs a read of its first
	// member's header.
	var hostile bytes.Buffer
	hostile.Write(framed[:len(framed)/2])
	for hostile.Len() < len(framed)/2+maxAppendedScan {
		const n = 1000
		binary.Write(&hostile, binary.LittleEndian, []uint32{gzipTableMember + 8*n + gzipFooterSize, n, gzipTableMagic})
		hostile.WriteString(gzipMemberTrailer)
	}
	hostile.WriteString("JUNK")
	checkNoTable(t, "a tail of footers", hostile.Bytes())
}

// appendedCase is bytes appended to the archive pack wrote, and what
// Trailing tells of them.
type appendedCase struct {
	name string
	tail []byte
	want Trailing
}

// checkAppended checks framed, the archive pack wrote of plain, with each
// case's tail appended: read at random through its table, Trailing
// telling want; as packed, nothing after its table; with maxAppendedScan
// bytes appended, no table.
func checkAppended(t *testing.T, plain, framed []byte, cases []appendedCase) {
	t.Helper()
	end := int64(len(framed))
	// A block's padding of zeros, past maxAppendedScan (dd conv=sync, a
	// tape's last record), is passed over before the search, with or
	// without bytes before it.
	block := make([]byte, 1<<20-1000)
	cases = append(cases,
		appendedCase{"a block's padding of zeros", block, Trailing{}},
		appendedCase{"junk, then a block's padding of zeros", append([]byte("JUNK"), block...), Trailing{Size: int64(4 + len(block)), AfterTable: true}})
	for _, tt := range cases {
		t.Run(tt.name, func(t *testing.T) {
			if tt.want.Found() {
				tt.want.Offset = end
			}
			z := checkSeekable(t, append(bytes.Clone(framed), tt.tail...), plain)
			got, err := z.Trailing()
			if err != nil || got != tt.want {
				t.Fatalf("Trailing: %+v, %v; want %+v", got, err, tt.want)
			}
			if tt.want.Found() && !strings.Contains(got.String(), "after the end of its seek table, from archive byte ") {
				t.Errorf("Trailing says %q", got.String())
			}
		})
	}
	if z := checkSeekable(t, framed, plain); func() bool { tr, err := z.Trailing(); return err != nil || tr.Found() }() {
		t.Errorf("the archive as packed has bytes after its table")
	}
	far := append(bytes.Clone(framed), bytes.Repeat([]byte{'J'}, maxAppendedScan)...)
	checkNoTable(t, fmt.Sprintf("%d bytes appended", maxAppendedScan), far)
	// Zeros past maxZeroPadding: not searched through, the archive left
	// to the stream reader.
	zeros := append(bytes.Clone(framed), make([]byte, maxZeroPadding+1)...)
	if _, ok, err := OpenSeekable(bytes.NewReader(zeros), int64(len(zeros))); ok || err != nil {
		t.Errorf("%d zeros appended: ok %v, err %v; want no table", maxZeroPadding+1, ok, err)
	}
}

// checkNoTable checks that data is found to have no seek table (it is
// left to the stream reader), at a cost of at most 4*maxAppendedScan
// bytes read.
func checkNoTable(t *testing.T, what string, data []byte) {
	t.Helper()
	r := &countingReaderAt{r: bytes.NewReader(data)}
	if _, ok, err := OpenSeekable(r, int64(len(data))); ok || err != nil {
		t.Errorf("%s: ok %v, err %v; want no table", what, ok, err)
	}
	if n := r.n.Load(); n > 4*maxAppendedScan {
		t.Errorf("%s: read %d bytes, want at most %d", what, n, 4*maxAppendedScan)
	}
}
