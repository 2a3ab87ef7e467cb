package layout

import (
	"errors"
	"fmt"
	"io"
	"os"
)

// maxTrailingScan bounds what is read past the end of a tar for bytes
// other than its padding: GNU tar pads to its record (10 KiB, up to a few
// MiB with a large blocking factor), and a hostile archive must not make
// a check of its end decompress without bound.
const maxTrailingScan = 64 << 20

// Trailing is what follows the end of a tar archive other than the zero
// blocks that end it and the zero padding tar writes after them: bytes
// pack never writes (appended to the copy, or another tool's). The
// archive's content is untouched by them; the copy is not the one pack
// wrote, byte for byte.
type Trailing struct {
	// Offset is where, in the tar (decompressed), the first byte other
	// than zero padding lies; with AfterStream, where the decompressed
	// stream ends.
	Offset int64
	// Size is the bytes from Offset to the end, or -1 when not counted:
	// past maxTrailingScan, or after the end of a compressed stream.
	Size int64
	// AfterStream is set when the bytes follow the end of a gzip or zstd
	// stream, which does not decode them (appended, or pack's seek table
	// cut short).
	AfterStream bool
	// AfterTable is set when the bytes follow the seek table of pack's
	// seekable archive, appended to it (Seekable.Trailing): Offset is
	// then where the table ends in the archive, the size pack wrote.
	AfterTable bool
}

// Found reports whether there is anything past the tar's end and padding.
func (t Trailing) Found() bool { return t.Size != 0 || t.AfterStream }

// String says what follows the end, for a warning.
func (t Trailing) String() string {
	switch {
	case t.AfterTable:
		return fmt.Sprintf("%d bytes after the end of its seek table, from archive byte %d: appended to the archive pack wrote (truncate -s %d on the copy gives it back)", t.Size, t.Offset, t.Offset)
	case t.AfterStream:
		return fmt.Sprintf("bytes after the end of its compressed stream (%d bytes decompressed) that do not decode: appended, or its seek table cut short", t.Offset)
	case t.Size < 0:
		return fmt.Sprintf("more than %d bytes after the end of its tar, from byte %d", maxTrailingScan, t.Offset)
	}
	return fmt.Sprintf("%d bytes after the end of its tar, from byte %d, that are not its zero padding", t.Size, t.Offset)
}

// scanTrailing reads r, what follows a tar's end at start, for bytes other
// than zeros. codec is set where r decodes a compressed stream: an error
// of the codec's past the tar's end is bytes it cannot decode, not damage
// to the archive's content.
func scanTrailing(r io.Reader, start int64, codec bool) (Trailing, error) {
	buf := make([]byte, 32<<10)
	first, read := int64(-1), int64(0)
	for read < maxTrailingScan {
		n, err := r.Read(buf[:min(int64(len(buf)), maxTrailingScan-read)])
		if first < 0 {
			for i, b := range buf[:n] {
				if b != 0 {
					first = start + read + int64(i)
					break
				}
			}
		}
		read += int64(n)
		if err == io.EOF {
			if first < 0 {
				return Trailing{}, nil
			}
			return Trailing{Offset: first, Size: start + read - first}, nil
		}
		if err != nil {
			if !codec || errors.As(err, new(*os.PathError)) {
				return Trailing{}, err // the medium's
			}
			return Trailing{Offset: start + read, Size: -1, AfterStream: true}, nil
		}
	}
	if first < 0 {
		first = start
	}
	return Trailing{Offset: first, Size: -1}, nil
}

// Trailing reads what follows the end of the tar, once Next has returned
// io.EOF (before that, it reports nothing): anything other than zero
// padding, up to maxTrailingScan bytes, and for a compressed archive what
// its codec cannot decode after its stream.
func (t *TarReader) Trailing() (Trailing, error) {
	if !t.ended {
		return Trailing{}, nil
	}
	tr, err := scanTrailing(t.count, t.count.n, t.compression != None)
	if err != nil || !tr.AfterStream {
		return tr, err
	}
	// Zeros after the stream are a tape's padding of its last record (as
	// gzip -d says, "trailing zero bytes ignored"): the codec stopped in
	// them, having read the next frame's header (zstd's 4-byte magic,
	// gzip's 10-byte header) as zeros, and only zeros follow. A seek table
	// cut short ends in its own bytes, and bytes appended are more than
	// zeros.
	header := map[Compression]int64{Zstd: 4, Gzip: 10}[t.compression]
	if d, ok := t.count.r.(*damageReader); ok && d.src.nonZero <= d.src.n-int64(d.rest.Buffered())-header {
		zeros, err := onlyZeros(d.rest)
		if err != nil {
			return Trailing{}, err
		}
		if zeros {
			return Trailing{}, nil
		}
	}
	return tr, nil
}

// onlyZeros reads r to its end (at most maxTrailingScan bytes) and reports
// whether it held only zeros (or nothing).
func onlyZeros(r io.Reader) (bool, error) {
	buf := make([]byte, 32<<10)
	read := int64(0)
	for read < maxTrailingScan {
		n, err := r.Read(buf)
		for _, b := range buf[:n] {
			if b != 0 {
				return false, nil
			}
		}
		read += int64(n)
		if err == io.EOF {
			return true, nil
		}
		if err != nil {
			return false, err
		}
	}
	return false, nil
}

// Trailing reads what follows the end of the tar (see TarReader.Trailing).
func (x *TarIndex) Trailing() (Trailing, error) {
	return scanTrailing(io.NewSectionReader(x.r, x.end, x.size-x.end), x.end, false)
}
