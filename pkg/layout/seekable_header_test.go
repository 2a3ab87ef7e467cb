package layout

import (
	"bytes"
	"fmt"
	"io"
	"strings"
	"testing"
)

// TestSeekableFrameHeaderDamaged: a byte flipped in the header of a frame
// of pack's .tar.zst or .tar.gz (a member's magic, a zstd frame's window or
// content size) is named as that frame's fault; the error named the frame
// before it, where the damage showed at the frame's first read: in split
// volumes, a volume not at fault (found by review).
func TestSeekableFrameHeaderDamaged(t *testing.T) {
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
		}
	}
}
