package layout

import (
	"bytes"
	"io"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
)

// inFlightReaderAt counts the reads under way in it, and the most at once;
// each read yields the processor a while, so that others come in beside it.
type inFlightReaderAt struct {
	r        io.ReaderAt
	in, most atomic.Int64
}

func (c *inFlightReaderAt) ReadAt(p []byte, off int64) (int, error) {
	n := c.in.Add(1)
	for m := c.most.Load(); n > m && !c.most.CompareAndSwap(m, n); m = c.most.Load() {
	}
	for range 200 {
		runtime.Gosched()
	}
	defer c.in.Add(-1)
	return c.r.ReadAt(p, off)
}

// TestSeekableReadsAreBounded: serve's pulls past the seekMaxSections that
// hold a decoder of their own read through Seekable.ReadAt, each read
// starting a decoder of its own (a megabyte and more of zstd's buffers)
// where none was parked at its place: 600 slow clients of one blob of a
// .tar.zst held 369 MiB (100 held 87). At most seekMaxReading reads are
// now under way at once, the others waiting their turn, and every one
// reads what it should.
func TestSeekableReadsAreBounded(t *testing.T) {
	sizes := map[string]int{"oci-layout": 30, "index.json": 700, "blobs/sha256/big": 4*frameSize + 12345, "blobs/sha256/small": 5000}
	plain, framed := framedTar(t, Zstd, sizes)
	src := &inFlightReaderAt{r: bytes.NewReader(framed)}
	z, ok, err := OpenSeekable(src, int64(len(framed)))
	if err != nil || !ok {
		t.Fatalf("OpenSeekable: ok %v, err %v", ok, err)
	}
	defer z.Close()
	const readers = 64
	var wg sync.WaitGroup
	errs := make(chan error, readers)
	for i := range readers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			off := int64(i) * int64(len(plain)-4096) / readers
			p := make([]byte, 4096)
			if _, err := z.ReadAt(p, off); err != nil {
				errs <- err
				return
			}
			if !bytes.Equal(p, plain[off:off+4096]) {
				errs <- io.ErrUnexpectedEOF
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	if most := src.most.Load(); most > seekMaxReading {
		t.Errorf("%d reads of the archive under way at once, want at most %d", most, seekMaxReading)
	}
}
