package layout

import (
	"archive/tar"
	"bytes"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"runtime"
	"strings"
	"testing"

	"github.com/stellaops/mirror/pkg/errdef"
)

// emptyEntries writes a tar of n empty files named name(i) to w, and closes
// w with the writer's error.
func emptyEntries(w *io.PipeWriter, n int, name func(int) string) {
	tw := tar.NewWriter(w)
	for i := range n {
		if err := tw.WriteHeader(&tar.Header{Typeflag: tar.TypeReg, Name: name(i), Mode: 0o644, Format: tar.FormatPAX}); err != nil {
			w.CloseWithError(err)
			return
		}
	}
	w.CloseWithError(tw.Close())
}

func emptyTar(t *testing.T, n int, name func(int) string) []byte {
	t.Helper()
	r, w := io.Pipe()
	go emptyEntries(w, n, name)
	data, err := io.ReadAll(r)
	if err != nil {
		t.Fatal(err)
	}
	return data
}

func longName(i int) string { return fmt.Sprintf("advisories/%s%06d", strings.Repeat("a", 1000), i) }

func blobName(i int) string { return fmt.Sprintf("blobs/sha256/%x", sha256.Sum256(fmt.Append(nil, i))) }

// TestTarNamesAreBounded: every name of an archive is held while it is
// read, to refuse one given twice. A hostile archive of a million empty
// entries named by 1 KiB paths (a 3 MiB .tar.zst) made verify and inspect
// hold 1.4 GB of names; the names of files other than blobs are now
// refused past MaxOtherNameBytes, which manifest.json's bound keeps every
// bundle's within, by the random-access index and the stream alike.
func TestTarNamesAreBounded(t *testing.T) {
	n := MaxOtherNameBytes/1000 + 100
	data := emptyTar(t, n, longName)
	_, err := IndexTar(bytes.NewReader(data), int64(len(data)))
	if !errors.Is(err, errdef.ErrMalformed) || !strings.Contains(err.Error(), "bytes of names") {
		t.Errorf("IndexTar: err = %v, want ErrMalformed for the names' bytes", err)
	}
	tr, err := NewTarReader(bytes.NewReader(data))
	if err != nil {
		t.Fatal(err)
	}
	for {
		if _, err = tr.Next(); err != nil {
			break
		}
	}
	if !errors.Is(err, errdef.ErrMalformed) || !strings.Contains(err.Error(), "bytes of names") {
		t.Errorf("TarReader: err = %v, want ErrMalformed for the names' bytes", err)
	}

	// Within the bound, and a name given twice, as before.
	ok := emptyTar(t, 1000, longName)
	if _, err := IndexTar(bytes.NewReader(ok), int64(len(ok))); err != nil {
		t.Errorf("IndexTar of 1000 long names: %v", err)
	}
	twice := emptyTar(t, 3, func(i int) string { return longName(i % 2) })
	if _, err := IndexTar(bytes.NewReader(twice), int64(len(twice))); !errors.Is(err, errdef.ErrMalformed) || !strings.Contains(err.Error(), "appears twice") {
		t.Errorf("IndexTar of a name given twice: err = %v", err)
	}
	blobTwice := emptyTar(t, 3, func(i int) string { return blobName(i % 2) })
	if _, err := IndexTar(bytes.NewReader(blobTwice), int64(len(blobTwice))); !errors.Is(err, errdef.ErrMalformed) || !strings.Contains(err.Error(), blobName(0)+`" appears twice`) {
		t.Errorf("IndexTar of a blob given twice: err = %v", err)
	}
	tr, _ = NewTarReader(bytes.NewReader(blobTwice))
	for {
		if _, err = tr.Next(); err != nil {
			break
		}
	}
	if !errors.Is(err, errdef.ErrMalformed) || !strings.Contains(err.Error(), blobName(0)+`" appears twice`) {
		t.Errorf("TarReader of a blob given twice: err = %v", err)
	}
}

// peakHeap samples the live heap every every reads of r (a collection
// first) and keeps the largest.
type peakHeap struct {
	every, reads int
	base, peak   int64
}

func (p *peakHeap) start() {
	runtime.GC()
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	p.base = int64(m.HeapAlloc)
}

func (p *peakHeap) sample() {
	if p.reads++; p.reads%p.every != 0 {
		return
	}
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	p.peak = max(p.peak, int64(m.HeapAlloc)-p.base)
}

type sampledReaderAt struct {
	io.ReaderAt
	p *peakHeap
}

func (s sampledReaderAt) ReadAt(b []byte, off int64) (int, error) {
	s.p.sample()
	return s.ReaderAt.ReadAt(b, off)
}

type sampledReader struct {
	io.Reader
	p *peakHeap
}

func (s sampledReader) Read(b []byte) (int, error) {
	s.p.sample()
	return s.Reader.Read(b)
}

// TestTarReadersHoldLittleWhileReading: an archive may hold MaxTarEntries
// empty blobs (a 7 MiB .tar.zst). While reading it, the random-access index
// kept every name as a string in a set besides its 48-byte entry, and grew
// the entries by append and copied them once more: verify of a plain tar of
// a million took 280 MB and 58 s; the stream kept every name too: with Scan
// keeping every empty blob (TestScanCandidatesAreBounded), 395 MB. The live heap
// is now sampled as they read, and each entry counts at most 80 bytes
// (the index's 48, the stream's 16-byte key in a set).
func TestTarReadersHoldLittleWhileReading(t *testing.T) {
	if raceEnabled {
		t.Skip("the race detector's instrumentation allocates on its own")
	}
	const n = 60000
	data := emptyTar(t, n, blobName)

	p := &peakHeap{every: n / 20}
	p.start()
	x, err := IndexTar(sampledReaderAt{bytes.NewReader(data), p}, int64(len(data)))
	if err != nil {
		t.Fatal(err)
	}
	p.sample()
	runtime.KeepAlive(x)
	t.Logf("IndexTar: peak %d bytes an entry", p.peak/n)
	if p.peak/n > 80 {
		t.Errorf("IndexTar held %d bytes an entry as it read, want at most 80", p.peak/n)
	}
	if _, ok := x.Entry(blobName(n / 2)); !ok || x.Len() != n {
		t.Fatalf("index of %d entries misses %s", x.Len(), blobName(n/2))
	}

	p = &peakHeap{every: 1} // the stream is read in large buffers
	p.start()
	tr, err := NewTarReader(sampledReader{bytes.NewReader(data), p})
	if err != nil {
		t.Fatal(err)
	}
	read := 0
	for ; ; read++ {
		if _, err = tr.Next(); err != nil {
			break
		}
	}
	if err != io.EOF || read != n {
		t.Fatalf("read %d entries, err %v", read, err)
	}
	p.sample()
	runtime.KeepAlive(tr)
	t.Logf("TarReader: peak %d bytes an entry", p.peak/n)
	if p.peak/n > 80 {
		t.Errorf("TarReader held %d bytes an entry as it read, want at most 80", p.peak/n)
	}
}
