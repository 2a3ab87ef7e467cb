package layout

import (
	"bytes"
	"errors"
	"io"
	"os"
	"syscall"
	"testing"

	"github.com/stellaops/mirror/pkg/errdef"
)

// failingReaderAt fails every read of the bytes from off to end, as a
// medium with a bad sector does.
type failingReaderAt struct {
	r        io.ReaderAt
	off, end int64
}

func (f *failingReaderAt) ReadAt(p []byte, off int64) (int, error) {
	if off < f.end && off+int64(len(p)) > f.off {
		return 0, &os.PathError{Op: "read", Path: "/media/stick/bundle.tar.zst", Err: syscall.EIO}
	}
	return f.r.ReadAt(p, off)
}

// TestSeekableMediumFailure: a read of the medium that failed (EIO) under
// a frame of pack's .tar.zst or .tar.gz was "the frame at archive byte N
// is corrupt (read FILE: input/output error): the archive was altered or
// damaged on the media: digest mismatch", exit 2, as if its bytes were
// altered; it is the medium's *os.PathError, exit 1, as under a .tar
// (found by review).
func TestSeekableMediumFailure(t *testing.T) {
	for _, c := range []Compression{Zstd, Gzip} {
		_, framed := framedTar(t, c, testSizes)
		z, ok, err := OpenSeekable(bytes.NewReader(framed), int64(len(framed)))
		if !ok || err != nil {
			t.Fatal(ok, err)
		}
		fr := z.frames[len(z.frames)-2]
		z.Close()
		z, ok, err = OpenSeekable(&failingReaderAt{r: bytes.NewReader(framed), off: fr.at + fr.size/2, end: fr.at + fr.size}, int64(len(framed)))
		if !ok || err != nil {
			t.Fatal(ok, err)
		}
		_, err = io.ReadAll(io.NewSectionReader(z, 0, z.Size()))
		z.Close()
		var pe *os.PathError
		if !errors.As(err, &pe) || errors.Is(err, errdef.ErrDigestMismatch) || errors.Is(err, errdef.ErrMalformed) {
			t.Errorf("%v: %v; want the medium's *os.PathError, neither a mismatch nor malformed", c, err)
		}
	}
}
