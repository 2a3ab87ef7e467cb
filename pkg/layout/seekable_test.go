package layout

import (
	"archive/tar"
	"bytes"
	stdgzip "compress/gzip"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"os/exec"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/klauspost/compress/zstd"

	"github.com/stellaops/mirror/pkg/errdef"
)

// framedTar packs entries (name → size, random content) into a plain tar
// and, as Pack does, into a seekable archive of codec c.
func framedTar(t testing.TB, c Compression, sizes map[string]int) (plain, framed []byte) {
	t.Helper()
	return framedTarOf(t, c, []string{"oci-layout", "index.json", "blobs/sha256/big", "blobs/sha256/small", "blobs/sha256/empty"}, sizes)
}

// framedTarOf is framedTar with the entries' order given.
func framedTarOf(t testing.TB, c Compression, names []string, sizes map[string]int) (plain, framed []byte) {
	t.Helper()
	var p, z bytes.Buffer
	cw, err := compressor(&z, c)
	if err != nil {
		t.Fatal(err)
	}
	fw := cw.(*framedWriter)
	ptw, ztw := tar.NewWriter(&p), tar.NewWriter(fw)
	rng := rand.New(rand.NewPCG(1, 2))
	for _, name := range names {
		body := make([]byte, sizes[name])
		for i := range body {
			body[i] = byte(rng.Uint32())
		}
		if err := ztw.Flush(); err != nil {
			t.Fatal(err)
		}
		if err := fw.EndFrame(); err != nil {
			t.Fatal(err)
		}
		for _, tw := range []*tar.Writer{ptw, ztw} {
			if err := tw.WriteHeader(packHeader(name, int64(len(body)), time.Unix(1700000000, 0))); err != nil {
				t.Fatal(err)
			}
			if _, err := tw.Write(body); err != nil {
				t.Fatal(err)
			}
		}
	}
	for _, c := range []io.Closer{ptw, ztw, fw} {
		if err := c.Close(); err != nil {
			t.Fatal(err)
		}
	}
	return p.Bytes(), z.Bytes()
}

var testSizes = map[string]int{"oci-layout": 30, "index.json": 700, "blobs/sha256/big": 2*frameSize + 12345, "blobs/sha256/small": 5000}

// codecs are the seekable codecs, each with an independent decoder of the
// whole archive as one stream.
var codecs = []struct {
	c      Compression
	stream func(b []byte) ([]byte, error)
}{
	{Zstd, func(b []byte) ([]byte, error) {
		dec, _ := zstd.NewReader(bytes.NewReader(b))
		defer dec.Close()
		return io.ReadAll(dec)
	}},
	{Gzip, func(b []byte) ([]byte, error) {
		// The standard library's decoder, not the one we read with.
		dec, err := stdgzip.NewReader(bytes.NewReader(b))
		if err != nil {
			return nil, err
		}
		return io.ReadAll(dec)
	}},
}

// TestSeekableRoundTrip: pack's .tar.zst and .tar.gz are the plain tar to
// any decoder of the codec, and read at random they give the plain tar's
// bytes at every offset, in order or not, from several readers at once;
// each entry starts a frame.
func TestSeekableRoundTrip(t *testing.T) {
	for _, codec := range codecs {
		t.Run(codec.c.String(), func(t *testing.T) {
			plain, framed := framedTar(t, codec.c, testSizes)
			streamed, err := codec.stream(framed)
			if err != nil || !bytes.Equal(streamed, plain) {
				t.Fatalf("a %s decoder reads %d bytes (%v), want the %d-byte tar", codec.c, len(streamed), err, len(plain))
			}
			z := checkSeekable(t, framed, plain)
			if len(z.frames) < 6 {
				t.Errorf("%d frames: want one per entry and more for the big one", len(z.frames))
			}
			// The tar index finds every entry through it, each at the start
			// of a frame.
			x, err := IndexTar(z, z.Size())
			if err != nil || x.Len() != 5 {
				t.Fatalf("index: %v (%d entries)", err, x.Len())
			}
			for name, size := range testSizes {
				e, _ := x.Entry(name)
				if e.Size != int64(size) {
					t.Errorf("%s: %d bytes, want %d", name, e.Size, size)
				}
				if i := z.frameAt(e.Offset - 512); z.frames[i].tarAt != e.Offset-512 && name != "blobs/sha256/big" {
					t.Errorf("%s: its header is not at the start of a frame", name)
				}
			}
		})
	}
	if gz, err := exec.LookPath("gzip"); err == nil {
		// The gzip tool reads the table members as nothing.
		plain, framed := framedTar(t, Gzip, testSizes)
		cmd := exec.Command(gz, "-dc")
		cmd.Stdin = bytes.NewReader(framed)
		out, err := cmd.Output()
		if err != nil || !bytes.Equal(out, plain) {
			t.Errorf("gzip -dc: %d bytes (%v), want the %d-byte tar", len(out), err, len(plain))
		}
	}
}

// TestSeekableGzipLongTable: a table longer than one gzip extra field
// holds spreads over several members, read back whole.
func TestSeekableGzipLongTable(t *testing.T) {
	defer func(n int) { gzipEntriesPerMember = n }(gzipEntriesPerMember)
	gzipEntriesPerMember = 2
	plain, framed := framedTar(t, Gzip, testSizes)
	z := checkSeekable(t, framed, plain)
	if n := len(z.frames); n < 6 {
		t.Fatalf("%d frames", n)
	}
	if got, err := codecs[1].stream(framed); err != nil || !bytes.Equal(got, plain) {
		t.Errorf("stream: %d bytes, %v", len(got), err)
	}
	if members := bytes.Count(framed, []byte{0x1f, 0x8b, 8, 4}); members != (len(z.frames)+1)/2 {
		t.Errorf("%d table members for %d frames, want %d", members, len(z.frames), (len(z.frames)+1)/2)
	}
}

// checkSeekable opens framed and checks it reads as plain: in order, 32 KiB
// at a time (a decoder goes on where it stopped), and at random from four
// readers at once.
func checkSeekable(t *testing.T, framed, plain []byte) *Seekable {
	t.Helper()
	z, ok, err := OpenSeekable(bytes.NewReader(framed), int64(len(framed)))
	if err != nil || !ok || z.Size() != int64(len(plain)) {
		t.Fatalf("open: ok %v, err %v", ok, err)
	}
	t.Cleanup(func() { z.Close() })
	var got bytes.Buffer
	if _, err := io.CopyBuffer(&got, io.NewSectionReader(z, 0, z.Size()), make([]byte, 32<<10)); err != nil || !bytes.Equal(got.Bytes(), plain) {
		t.Fatalf("read in order: %v, equal %v", err, bytes.Equal(got.Bytes(), plain))
	}
	var wg sync.WaitGroup
	for g := range 4 {
		wg.Go(func() {
			rng := rand.New(rand.NewPCG(uint64(g), 7))
			for range 50 {
				off := rng.Int64N(int64(len(plain)))
				buf := make([]byte, rng.IntN(100<<10)+1)
				n, err := z.ReadAt(buf, off)
				want := plain[off:min(off+int64(len(buf)), int64(len(plain)))]
				if (err != nil && err != io.EOF) || !bytes.Equal(buf[:n], want) {
					t.Errorf("ReadAt(%d, %d): %d bytes, %v", len(buf), off, n, err)
					return
				}
			}
		})
	}
	wg.Wait()
	return z
}

// TestZstdSeekableRefuses: an archive without a table is left to the
// stream reader; a table that does not describe the archive, and frames
// that do not hold what it says, are refused as malformed, never read past.
func TestZstdSeekableRefuses(t *testing.T) {
	plain, framed := framedTar(t, Zstd, testSizes)
	var stream bytes.Buffer
	enc, _ := zstd.NewWriter(&stream)
	enc.Write(plain)
	enc.Close()
	if _, ok, err := OpenSeekable(bytes.NewReader(stream.Bytes()), int64(stream.Len())); ok || err != nil {
		t.Errorf("plain zstd stream: ok %v, err %v; want no table, no error", ok, err)
	}
	if _, ok, err := OpenSeekable(bytes.NewReader(framed[:len(framed)-3]), int64(len(framed)-3)); ok || err != nil {
		t.Errorf("cut archive: ok %v, err %v; want no table (read as a stream, which reports the cut)", ok, err)
	}

	n := len(framed)
	frames := int(binary.LittleEndian.Uint32(framed[n-9:]))
	tableAt := n - (8 + 8*frames + seekFooterSize)
	broken := map[string]func(b []byte){
		"frame count too large": func(b []byte) { binary.LittleEndian.PutUint32(b[n-9:], uint32(frames+1)) },
		"frame count huge":      func(b []byte) { binary.LittleEndian.PutUint32(b[n-9:], 0xffffffff) },
		"descriptor flags":      func(b []byte) { b[n-5] = 0x80 },
		"compressed size lies": func(b []byte) {
			binary.LittleEndian.PutUint32(b[tableAt+8:], binary.LittleEndian.Uint32(b[tableAt+8:])+1)
		},
		"frame of nothing":      func(b []byte) { binary.LittleEndian.PutUint32(b[tableAt+12:], 0) },
		"not a skippable frame": func(b []byte) { b[tableAt] ^= 1 },
	}
	refusesBrokenTables(t, framed, broken)

	refusesReadingPast(t, framed, tableAt+8+8*(frames-1)+4)
	// A frame asking for a window larger than seekable archives get.
	// A frame by hand: magic, no flags, window descriptor 2^(10+16), one
	// last raw block of 4096 bytes.
	var wide bytes.Buffer
	wide.Write([]byte{0x28, 0xb5, 0x2f, 0xfd, 0x00, 16 << 3, 0x01, 0x80, 0x00})
	wide.Write(plain[:4096])
	frameLen := wide.Len()
	binary.Write(&wide, binary.LittleEndian, []uint32{skippableSeekMagic, 8 + seekFooterSize, uint32(frameLen), 4096, 1})
	wide.Write([]byte{0})
	binary.Write(&wide, binary.LittleEndian, uint32(seekableMagic))
	z, ok, err := OpenSeekable(bytes.NewReader(wide.Bytes()), int64(wide.Len()))
	if !ok || err != nil {
		t.Fatalf("open the wide-window archive: %v %v", ok, err)
	}
	if _, err := z.ReadAt(make([]byte, 10), 0); !errors.Is(err, errdef.ErrMalformed) {
		t.Errorf("a 64 MiB window: %v, want ErrMalformed", err)
	}
	// A flipped byte inside a frame: its checksum fails the read, as
	// altered on the media.
	b := bytes.Clone(framed)
	b[len(b)/2] ^= 0xff
	z, _, _ = OpenSeekable(bytes.NewReader(b), int64(len(b)))
	if got, err := io.ReadAll(io.NewSectionReader(z, 0, z.Size())); !errors.Is(err, errdef.ErrDigestMismatch) || bytes.Equal(got, plain) {
		t.Errorf("corrupt frame read without error (%d bytes)", len(got))
	}
}

// TestGzipSeekableRefuses: a .tar.gz without a table (another tool's, or
// cut short) is left to the stream reader; a table that does not describe
// the archive, and members that do not hold what it says, are refused as
// malformed, never read past; a corrupt member is named.
func TestGzipSeekableRefuses(t *testing.T) {
	plain, framed := framedTar(t, Gzip, testSizes)
	var stream bytes.Buffer
	enc := stdgzip.NewWriter(&stream)
	enc.Write(plain)
	enc.Close()
	for name, b := range map[string][]byte{"plain gzip stream": stream.Bytes(), "cut archive": framed[:len(framed)-3], "too short": framed[:20]} {
		if _, ok, err := OpenSeekable(bytes.NewReader(b), int64(len(b))); ok || err != nil {
			t.Errorf("%s: ok %v, err %v; want no table, no error", name, ok, err)
		}
	}

	n := len(framed)
	foot := n - 10 - gzipFooterSize
	tableSize := int(binary.LittleEndian.Uint32(framed[foot:]))
	tableAt := n - tableSize
	broken := map[string]func(b []byte){
		"member count too large": func(b []byte) { binary.LittleEndian.PutUint32(b[foot+4:], binary.LittleEndian.Uint32(b[foot+4:])+1) },
		"member count huge":      func(b []byte) { binary.LittleEndian.PutUint32(b[foot+4:], 0xffffffff) },
		"table size too large":   func(b []byte) { binary.LittleEndian.PutUint32(b[foot:], uint32(n+1)) },
		"table size lies":        func(b []byte) { binary.LittleEndian.PutUint32(b[foot:], uint32(tableSize+8)) },
		"compressed size lies": func(b []byte) {
			binary.LittleEndian.PutUint32(b[tableAt+16:], binary.LittleEndian.Uint32(b[tableAt+16:])+1)
		},
		"member of nothing":        func(b []byte) { binary.LittleEndian.PutUint32(b[tableAt+20:], 0) },
		"not a table member":       func(b []byte) { b[tableAt+3] = 0 },
		"subfield of another kind": func(b []byte) { b[tableAt+12] = 'X' },
	}
	refusesBrokenTables(t, framed, broken)

	frames := int(binary.LittleEndian.Uint32(framed[foot+4:]))
	refusesReadingPast(t, framed, tableAt+16+8*(frames-1)+4)
	// A flipped byte inside the big entry's member: its checksum fails the
	// read, which names the member, as altered on the media (exit 2, as a
	// blob of a plain tar).
	b := bytes.Clone(framed)
	b[len(b)/2] ^= 0xff
	z, _, _ := OpenSeekable(bytes.NewReader(b), int64(len(b)))
	got, err := io.ReadAll(io.NewSectionReader(z, 0, z.Size()))
	if !errors.Is(err, errdef.ErrDigestMismatch) || !strings.Contains(err.Error(), "gzip archive: the member at archive byte ") || bytes.Equal(got, plain) {
		t.Errorf("corrupt member: %v (%d bytes)", err, len(got))
	}
}

// refusesBrokenTables checks that each damage of framed's table is refused
// as malformed when the archive is opened.
func refusesBrokenTables(t *testing.T, framed []byte, broken map[string]func(b []byte)) {
	t.Helper()
	for name, breakIt := range broken {
		b := bytes.Clone(framed)
		breakIt(b)
		if _, ok, err := OpenSeekable(bytes.NewReader(b), int64(len(b))); !ok || !errors.Is(err, errdef.ErrMalformed) {
			t.Errorf("%s: ok %v, err %v; want ErrMalformed", name, ok, err)
		}
	}
}

// refusesReadingPast raises the tar size of the last frame (the uint32 at
// tarNAt in the table) by 4096: the table then claims more tar than the
// frames hold, and the read that gets there fails; it does not return
// made-up bytes.
func refusesReadingPast(t *testing.T, framed []byte, tarNAt int) {
	t.Helper()
	b := bytes.Clone(framed)
	binary.LittleEndian.PutUint32(b[tarNAt:], binary.LittleEndian.Uint32(b[tarNAt:])+4096)
	z, ok, err := OpenSeekable(bytes.NewReader(b), int64(len(b)))
	if !ok || err != nil {
		t.Fatalf("open: %v %v", ok, err)
	}
	if _, err := io.ReadAll(io.NewSectionReader(z, 0, z.Size())); !errors.Is(err, errdef.ErrMalformed) {
		t.Errorf("reading past the frames: %v, want ErrMalformed", err)
	}
}

// FuzzSeekable reads any bytes as a seekable .tar.zst or .tar.gz: opening
// it and reading its first megabyte in order and at random must end in the
// bytes or an error saying it is malformed, never in a panic or a hang.
func FuzzSeekable(f *testing.F) {
	for _, c := range []Compression{Zstd, Gzip} {
		_, framed := framedTar(f, c, map[string]int{"oci-layout": 30, "index.json": 100, "blobs/sha256/big": 3000})
		f.Add(framed)
	}
	// The outcomes TROUBLESHOOT documents for a damaged archive: a frame
	// whose header, content or checksum fails to decode is a digest
	// mismatch (exit 2, altered on the media); one not as a seekable
	// archive holds (more tar than its table gives it, a window too large,
	// a table that does not parse) is malformed (exit 11). Anything else,
	// a panic or a hang, fails.
	documented := func(err error) bool {
		return errors.Is(err, errdef.ErrMalformed) || errors.Is(err, errdef.ErrDigestMismatch)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		z, ok, err := OpenSeekable(bytes.NewReader(data), int64(len(data)))
		if err != nil && !errors.Is(err, errdef.ErrMalformed) {
			t.Fatalf("open: %v is not ErrMalformed", err)
		}
		if !ok || err != nil {
			return
		}
		defer z.Close()
		n := min(z.Size(), 1<<20)
		if _, err := io.Copy(io.Discard, io.NewSectionReader(z, 0, n)); err != nil && !documented(err) {
			t.Fatalf("read: %v is neither ErrMalformed nor ErrDigestMismatch", err)
		}
		buf := make([]byte, 100)
		if _, err := z.ReadAt(buf, n/2); err != nil && err != io.EOF && !documented(err) {
			t.Fatalf("read at %d: %v is neither ErrMalformed nor ErrDigestMismatch", n/2, err)
		}
	})
}

// TestIndexSeekableReadsHeadersOnly: indexing a seekable archive reads its
// entries' headers, not their contents. One tar.Reader over the whole
// archive skipped each content by reading its last byte, which decoded
// every frame an entry ends: the whole archive, when entries are small.
func TestIndexSeekableReadsHeadersOnly(t *testing.T) {
	names, sizes := []string{}, map[string]int{}
	for i := range 12 {
		name := fmt.Sprintf("blobs/sha256/%02d", i)
		names, sizes[name] = append(names, name), 1<<20
	}
	for _, codec := range codecs {
		t.Run(codec.c.String(), func(t *testing.T) {
			_, framed := framedTarOf(t, codec.c, names, sizes)
			counted := &countingReaderAt{r: bytes.NewReader(framed)}
			z, ok, err := OpenSeekable(counted, int64(len(framed)))
			if !ok || err != nil {
				t.Fatalf("open: %v %v", ok, err)
			}
			defer z.Close()
			counted.n.Store(0)
			x, err := IndexTar(z, z.Size())
			if err != nil || x.Len() != len(names) {
				t.Fatalf("index: %v (%d entries)", err, x.Len())
			}
			// A decoder reads ahead (128 KiB) from each header it starts at.
			if n := counted.n.Load(); n > int64(len(framed))/4 {
				t.Errorf("indexing read %d of the archive's %d bytes", n, len(framed))
			}
		})
	}
}

type countingReaderAt struct {
	r io.ReaderAt
	n atomic.Int64
}

func (c *countingReaderAt) ReadAt(p []byte, off int64) (int, error) {
	n, err := c.r.ReadAt(p, off)
	c.n.Add(int64(n))
	return n, err
}

// TestSeekableReusesDecoders: reading many entries, from several readers at
// once, starts decoders over at new frames instead of making one per entry
// (each holds about a megabyte for zstd). Indexing the archive makes one;
// reading entries whole, each ends where nothing goes on from, so the
// decoders made stay within the readers, however many entries (before,
// indexing and reading filled the 16 idle slots with one each).
func TestSeekableReusesDecoders(t *testing.T) {
	names, sizes := []string{}, map[string]int{}
	for i := range 4 * seekMaxIdle {
		name := fmt.Sprintf("blobs/sha256/%03d", i)
		names, sizes[name] = append(names, name), 64<<10+i
	}
	const readers = 4
	for _, codec := range codecs {
		t.Run(codec.c.String(), func(t *testing.T) {
			plain, framed := framedTarOf(t, codec.c, names, sizes)
			z, ok, err := OpenSeekable(bytes.NewReader(framed), int64(len(framed)))
			if !ok || err != nil {
				t.Fatalf("open: %v %v", ok, err)
			}
			defer z.Close()
			var made atomic.Int64
			open := z.codec.open
			z.codec.open = func(r io.Reader) (frameDecoder, error) { made.Add(1); return open(r) }
			// As import and serve open it: inside a type of their own.
			x, err := IndexTar(struct{ *Seekable }{z}, z.Size())
			if err != nil {
				t.Fatal(err)
			}
			if n := made.Load(); n != 1 {
				t.Errorf("indexing %d entries made %d decoders, want 1", len(names), n)
			}
			var wg sync.WaitGroup
			work := make(chan string)
			for range readers {
				wg.Go(func() {
					for name := range work {
						e, _ := x.Entry(name)
						got := make([]byte, e.Size)
						if _, err := z.ReadAt(got, e.Offset); err != nil || !bytes.Equal(got, plain[e.Offset:e.Offset+e.Size]) {
							t.Errorf("%s: %v", name, err)
						}
					}
				})
			}
			for _, name := range names {
				work <- name
			}
			close(work)
			wg.Wait()
			t.Logf("%d decoders made for %d entries", made.Load(), len(names))
			if n, most := made.Load(), int64(readers); n > most {
				t.Errorf("%d decoders made for %d entries, want at most %d", n, len(names), most)
			}
		})
	}
}
