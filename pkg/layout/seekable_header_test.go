package layout

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"strings"
	"testing"

	"github.com/stellaops/mirror/pkg/errdef"
)

// TestSeekableFrameHeaderDamaged: a byte flipped in the header of a frame
// of pack's .tar.zst or .tar.gz (a member's magic, a zstd frame's window or
// content size) is named as that frame's fault; the error named the frame
// before it, where the damage showed at the frame's first read: in split
// volumes, a volume not at fault (found by review).
//
// A header the decoder refuses (a gzip member's magic or method, as a zstd
// frame's magic) is the frame's bytes altered, exit 2, "get a fresh copy":
// a gzip member's was malformed, exit 11, where a zstd frame's was not. A
// zstd frame asking for a window or content larger than stella decodes
// stays malformed: another tool's seekable zstd may (found by review).
func TestSeekableFrameHeaderDamaged(t *testing.T) {
	damaged := map[string]bool{"magic": true, "method": true, "reserved bit": true}
	for _, tc := range []struct {
		c     Compression
		flips map[string][2]int // byte of the frame's header, bits flipped
	}{
		{Zstd, map[string][2]int{"magic": {0, 0x01}, "window size": {4, 0x40}, "content size": {4, 0x80}, "reserved bit": {4, 0x08}}},
		{Gzip, map[string][2]int{"magic": {0, 0x10}, "method": {2, 0x10}, "flags": {3, 0x10}}},
	} {
		plain, framed := framedTar(t, tc.c, testSizes)
		z, ok, err := OpenSeekable(bytes.NewReader(framed), int64(len(framed)))
		if !ok || err != nil {
			t.Fatal(ok, err)
		}
		fr := z.frames[len(z.frames)-2]
		z.Close()
		for name, flip := range tc.flips {
			b := bytes.Clone(framed)
			b[fr.at+int64(flip[0])] ^= byte(flip[1])
			z, ok, err := OpenSeekable(bytes.NewReader(b), int64(len(b)))
			if !ok || err != nil {
				t.Fatalf("%v %s: open: %v %v", tc.c, name, ok, err)
			}
			got, err := io.ReadAll(io.NewSectionReader(z, 0, z.Size()))
			z.Close()
			where := fmt.Sprintf(" at archive byte %d is corrupt", fr.at)
			if err == nil || !strings.Contains(err.Error(), where) || bytes.Equal(got, plain) {
				t.Errorf("%v, %s of the frame at %d flipped: %v; want an error naming that frame", tc.c, name, fr.at, err)
			}
			if damaged[name] && (!errors.Is(err, errdef.ErrDigestMismatch) || errors.Is(err, errdef.ErrMalformed)) {
				t.Errorf("%v, %s of the frame at %d flipped: %v; want ErrDigestMismatch (exit 2), as a zstd frame's", tc.c, name, fr.at, err)
			}
		}
	}
}
