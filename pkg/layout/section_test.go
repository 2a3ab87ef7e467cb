package layout

import (
	"bytes"
	"fmt"
	"io"
	"sync/atomic"
	"testing"

	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

type countingDecoder struct {
	frameDecoder
	n *atomic.Int64
}

func (d countingDecoder) Read(p []byte) (int, error) {
	n, err := d.frameDecoder.Read(p)
	d.n.Add(int64(n))
	return n, err
}

// TestManyStreamsKeepTheirPlace: more blobs read front to back at once
// than idle slots (serve answering 32 pulls at once, each read 32 KiB at a
// time) each go on where they stopped. Through ReadAt alone, every read
// lost its cursor to another stream's and decoded its frame again from the
// start: 32x the bytes delivered for 2 MiB entries, 64x for pack's 4 MiB
// frames (found by review). Blobs opened with OpenBlob read with a decoder
// of their own (seekMaxSections of them), the rest share the idle slots.
func TestManyStreamsKeepTheirPlace(t *testing.T) {
	const streams = seekMaxSections + seekMaxIdle
	var names []string
	var descs []ocispec.Descriptor
	sizes := map[string]int{}
	for i := range streams {
		dg := digest.FromString(fmt.Sprint(i))
		name := BlobName(dg)
		names, sizes[name] = append(names, name), 2<<20
		descs = append(descs, ocispec.Descriptor{Digest: dg, Size: 2 << 20})
	}
	for _, codec := range codecs {
		t.Run(codec.c.String(), func(t *testing.T) {
			plain, framed := framedTarOf(t, codec.c, names, sizes)
			z, ok, err := OpenSeekable(bytes.NewReader(framed), int64(len(framed)))
			if !ok || err != nil {
				t.Fatal(ok, err)
			}
			defer z.Close()
			var decoded atomic.Int64
			open := z.codec.open
			z.codec.open = func(r io.Reader) (frameDecoder, error) {
				d, err := open(r)
				if err != nil {
					return nil, err
				}
				return countingDecoder{d, &decoded}, nil
			}
			// As serve opens it: inside a type of its own.
			x, err := IndexTar(struct{ *Seekable }{z}, z.Size())
			if err != nil {
				t.Fatal(err)
			}
			decoded.Store(0)
			readers := make([]io.Reader, len(descs))
			for i, d := range descs {
				b, err := x.OpenBlob(d)
				if err != nil {
					t.Fatal(err)
				}
				defer b.Close()
				readers[i] = io.NewSectionReader(b, 0, b.Size())
			}
			buf := make([]byte, 32<<10)
			var delivered int64
			for step := 0; step < (2<<20)/len(buf); step++ {
				for i, r := range readers {
					n, err := r.Read(buf)
					e, _ := x.Entry(names[i])
					if err != nil || !bytes.Equal(buf[:n], plain[e.Offset+int64(step*len(buf)):][:n]) {
						t.Fatalf("stream %d step %d: %v", i, step, err)
					}
					delivered += int64(n)
				}
			}
			t.Logf("%d streams: %d bytes delivered, %d decoded (%.2fx)", streams, delivered, decoded.Load(), float64(decoded.Load())/float64(delivered))
			if decoded.Load() > delivered+delivered/8 {
				t.Errorf("%d streams read in turn: %d bytes decoded for %d delivered", streams, decoded.Load(), delivered)
			}
		})
	}
}

// TestSectionGivesBackItsDecoder: a Section read to its end gives its
// decoder back (an upload holds its section a while after), and a closed
// one its slot, for the next Section; a Section past seekMaxSections reads
// through ReadAt, and reads the same bytes.
func TestSectionGivesBackItsDecoder(t *testing.T) {
	names := []string{"blobs/sha256/a", "blobs/sha256/b"}
	plain, framed := framedTarOf(t, Zstd, names, map[string]int{names[0]: 3 << 20, names[1]: 5000})
	z, _, err := OpenSeekable(bytes.NewReader(framed), int64(len(framed)))
	if err != nil {
		t.Fatal(err)
	}
	defer z.Close()
	x, err := IndexTar(z, z.Size())
	if err != nil {
		t.Fatal(err)
	}
	e, _ := x.Entry(names[0])
	var open []*SeekableSection
	for range seekMaxSections + 1 {
		open = append(open, z.Section(e.Offset, e.Size))
	}
	for i, s := range open {
		got := make([]byte, s.Size()+10)
		n, err := s.ReadAt(got, 0)
		if err != io.EOF || int64(n) != e.Size || !bytes.Equal(got[:n], plain[e.Offset:e.Offset+e.Size]) {
			t.Fatalf("section %d: %d bytes, %v", i, n, err)
		}
		if want := i < seekMaxSections; s.own != want {
			t.Errorf("section %d holds a decoder of its own: %v, want %v", i, s.own, want)
		}
	}
	for _, s := range open {
		s.Close()
	}
	// Each read to its section's end gave the decoder back at once: the
	// next section started it over.
	if z.sections != 0 || len(z.free) != 1 {
		t.Errorf("after closing: %d sections counted, %d decoders kept; want 0 and 1", z.sections, len(z.free))
	}
	if s := z.Section(e.Offset, e.Size); !s.own {
		t.Error("a section after the others closed reads without a decoder of its own")
	}
}
