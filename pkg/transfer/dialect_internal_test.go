package transfer

import (
	"math"
	"testing"
)

// OCI-Chunk-Min-Length is a registry's word: what is no count of bytes
// counts as none, and one past int64 as the largest.
func TestLearnChunkMin(t *testing.T) {
	for _, tc := range []struct {
		header string
		want   int64
	}{
		{"", 0},
		{"abc", 0},
		{"-5", 0},
		{"0", 0},
		{" 5242880 ", 5 << 20},
		{"99999999999999999999", math.MaxInt64},
		{"-99999999999999999999", 0},
	} {
		var d Dialect
		d.chunkMin.Store(7)
		d.learnChunkMin(tc.header)
		if got := d.chunkMin.Load(); got != tc.want {
			t.Errorf("OCI-Chunk-Min-Length %q: learnt %d, want %d", tc.header, got, tc.want)
		}
	}
}
