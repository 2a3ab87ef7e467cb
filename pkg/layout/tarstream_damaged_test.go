package layout

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"errors"
	"io"
	"math/rand/v2"
	"os"
	"strings"
	"syscall"
	"testing"

	"github.com/klauspost/compress/zstd"

	"github.com/stellaops/mirror/pkg/errdef"
)

// TestTarReaderDamagedStream: a .tar.zst or .tar.gz another tool made (no
// seek table, read as one stream) with a byte altered on the media failed
// as malformed, exit 11 ("match offset (123325) bigger than current
// history: malformed"), where a frame of pack's so damaged is a digest
// mismatch, exit 2, "get a fresh copy"; the codec's own finding (content
// that does not decode, its checksum) is damage in the stream too. A cut
// stream stays truncated, malformed (found by review).
func TestTarReaderDamagedStream(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	body := make([]byte, 300<<10)
	for i := range body {
		body[i] = byte(rng.Uint32() % 16) // compressible, so back references
	}
	plain := makeTar(t, entry{name: "oci-layout", typeflag: tar.TypeReg, body: "{}"}, entry{name: "blobs/x", typeflag: tar.TypeReg, body: string(body)})
	var gz, zs bytes.Buffer
	zw := gzip.NewWriter(&gz)
	zw.Write(plain)
	zw.Close()
	ze, _ := zstd.NewWriter(&zs)
	ze.Write(plain)
	ze.Close()
	for name, data := range map[string][]byte{"gzip": gz.Bytes(), "zstd": zs.Bytes()} {
		damaged := 0
		for _, at := range []int{len(data) / 3, len(data) / 2, len(data) * 2 / 3, len(data) - 6} {
			b := bytes.Clone(data)
			b[at] ^= 0x55
			_, err := readAll(bytes.NewReader(b))
			if errors.Is(err, errdef.ErrMalformed) {
				t.Errorf("%s, byte %d of %d altered: %v; want ErrDigestMismatch, not ErrMalformed", name, at, len(data), err)
			}
			if errors.Is(err, errdef.ErrDigestMismatch) {
				damaged++
			}
		}
		if damaged == 0 {
			t.Errorf("%s: no altered byte found", name)
		}
	}
}

// failingReader gives n bytes of r, then fails as a medium does.
type failingReader struct {
	r io.Reader
	n int
}

func (f *failingReader) Read(p []byte) (int, error) {
	if f.n <= 0 {
		return 0, &os.PathError{Op: "read", Path: "/media/stick/bundle.tar.zst", Err: syscall.EIO}
	}
	p = p[:min(len(p), f.n)]
	n, err := f.r.Read(p)
	f.n -= n
	return n, err
}

// TestTarReaderMediumFailsInStream: a medium failing under a compressed
// stream is not taken for damage the codec found.
func TestTarReaderMediumFailsInStream(t *testing.T) {
	plain := makeTar(t, entry{name: "oci-layout", typeflag: tar.TypeReg, body: "{}"}, entry{name: "blobs/x", typeflag: tar.TypeReg, body: strings.Repeat("ab", 200<<10)})
	var gz, zs bytes.Buffer
	zw := gzip.NewWriter(&gz)
	zw.Write(plain)
	zw.Close()
	ze, _ := zstd.NewWriter(&zs)
	ze.Write(plain)
	ze.Close()
	for name, data := range map[string][]byte{"gzip": gz.Bytes(), "zstd": zs.Bytes()} {
		_, err := readAll(&failingReader{r: bytes.NewReader(data), n: len(data) / 2})
		if err == nil || errors.Is(err, errdef.ErrDigestMismatch) {
			t.Errorf("%s: %v; want the medium's error, not a digest mismatch", name, err)
		}
	}
}

// TestTarReaderMediumFailureIsNotMalformed: a read of the medium that
// failed (EIO: an unreadable sector, a stick pulled out) under an archive
// read as a stream was "archive entry blobs/x: read FILE: input/output
// error: malformed", exit 11, a bundle called badly made; it is the
// medium's *os.PathError, which the callers tell as a failing medium
// (found by review).
func TestTarReaderMediumFailureIsNotMalformed(t *testing.T) {
	plain := makeTar(t, entry{name: "oci-layout", typeflag: tar.TypeReg, body: "{}"}, entry{name: "blobs/x", typeflag: tar.TypeReg, body: strings.Repeat("ab", 200<<10)})
	var gz bytes.Buffer
	zw := gzip.NewWriter(&gz)
	zw.Write(plain)
	zw.Close()
	for name, data := range map[string][]byte{"plain": plain, "gzip": gz.Bytes()} {
		_, err := readAll(&failingReader{r: bytes.NewReader(data), n: len(data) / 2})
		var pe *os.PathError
		if !errors.As(err, &pe) || errors.Is(err, errdef.ErrMalformed) {
			t.Errorf("%s: %v; want the medium's *os.PathError, not malformed", name, err)
		}
	}
}

// TestTarReaderDamagedStreamHeader: a .tar.gz read as one stream whose
// first member's header is altered on the media (its method or flags
// byte) was "gzip: invalid header: malformed", exit 11, where the same
// damage to a member of pack's .tar.gz is exit 2, "get a fresh copy"; one
// cut short within its header is still malformed (found by review).
func TestTarReaderDamagedStreamHeader(t *testing.T) {
	plain := makeTar(t, entry{name: "oci-layout", typeflag: tar.TypeReg, body: "{}"})
	var gz bytes.Buffer
	zw := gzip.NewWriter(&gz)
	zw.Write(plain)
	zw.Close()
	b := bytes.Clone(gz.Bytes())
	b[2] ^= 0x10 // the method: deflate no more
	if _, err := NewTarReader(bytes.NewReader(b)); !errors.Is(err, errdef.ErrDigestMismatch) || errors.Is(err, errdef.ErrMalformed) {
		t.Errorf("method byte altered: %v; want ErrDigestMismatch", err)
	}
	if _, err := NewTarReader(bytes.NewReader(gz.Bytes()[:6])); !errors.Is(err, errdef.ErrMalformed) {
		t.Errorf("cut within the header: %v; want ErrMalformed", err)
	}
}

// failingOnceReader gives n bytes of r, fails once as a medium does, then
// reads on.
type failingOnceReader struct {
	r      io.Reader
	n      int
	failed bool
}

func (f *failingOnceReader) Read(p []byte) (int, error) {
	if f.n <= 0 && !f.failed {
		f.failed = true
		return 0, &os.PathError{Op: "read", Path: "/media/stick/bundle.tar.gz", Err: syscall.EIO}
	}
	if !f.failed {
		p = p[:min(len(p), f.n)]
	}
	n, err := f.r.Read(p)
	f.n -= n
	return n, err
}

// TestTarReaderMediumFailsInFirstHeader: a medium failing (EIO) within the
// first bytes of a .tar.gz or .tar.zst read as a stream, its magic or the
// rest of its first header, was "gzip: read FILE: input/output error:
// malformed", exit 11, or the compressed bytes read as a plain tar, also
// malformed; it is the medium's *os.PathError, exit 1, as anywhere later
// in the stream; a medium that reads again after failing once may give
// the archive whole (found by review).
func TestTarReaderMediumFailsInFirstHeader(t *testing.T) {
	plain := makeTar(t, entry{name: "oci-layout", typeflag: tar.TypeReg, body: "{}"})
	var gz bytes.Buffer
	zw, _ := gzip.NewWriterLevel(&gz, gzip.BestSpeed)
	zw.Name = "bundle.tar" // a header longer than its 10 bytes
	zw.Write(plain)
	zw.Close()
	var zs bytes.Buffer
	ze, _ := zstd.NewWriter(&zs)
	ze.Write(plain)
	ze.Close()
	for name, data := range map[string][]byte{"gzip": gz.Bytes(), "zstd": zs.Bytes()} {
		for _, n := range []int{0, 2, 5, 12} {
			for _, r := range []io.Reader{
				&failingReader{r: bytes.NewReader(data), n: n},
				&failingOnceReader{r: bytes.NewReader(data), n: n},
			} {
				_, err := readAll(r)
				if _, once := r.(*failingOnceReader); once && err == nil {
					continue // read again past the failure: the archive whole
				}
				var pe *os.PathError
				if !errors.As(err, &pe) || errors.Is(err, errdef.ErrMalformed) || errors.Is(err, errdef.ErrDigestMismatch) {
					t.Errorf("%s, failing at byte %d (%T): %v; want the medium's *os.PathError", name, n, r, err)
				}
			}
		}
	}
}
