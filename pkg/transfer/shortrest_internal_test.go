package transfer

import (
	"bytes"
	"io"
	"testing"
)

// A request body spliced from a carried rest and the next chunk reads,
// from any of its bytes (a retry's), exactly the bytes it stands for, and
// the rest copied for the next chunk is the splice's end, whatever
// buffer each byte is in.
func TestSplicedBody(t *testing.T) {
	head, tail := []byte("carried-"), []byte("next chunk")
	whole := append(append([]byte(nil), head...), tail...)
	s := spliced{head: head, tail: tail}
	for p := int64(0); p <= s.Len(); p++ {
		if got := s.rest(p); !bytes.Equal(got, whole[p:]) {
			t.Errorf("rest(%d) = %q, want %q", p, got, whole[p:])
		}
		for n := int64(0); p+n <= s.Len(); n++ {
			b := s.part(p, n)
			if b.Len() != n {
				t.Fatalf("part(%d, %d) is %d bytes", p, n, b.Len())
			}
			for k := int64(0); k <= n; k++ {
				got, err := io.ReadAll(b.From(k))
				if want := whole[p+k : p+n]; err != nil || !bytes.Equal(got, want) {
					t.Fatalf("part(%d, %d).From(%d) = %q (%v), want %q", p, n, k, got, err, want)
				}
			}
		}
	}
}
