package bundle

import (
	"bytes"
	"io"
	"testing"

	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

// BenchmarkVerifyReader measures hashing on the way, the cost every blob
// pays once.
func BenchmarkVerifyReader(b *testing.B) {
	data := bytes.Repeat([]byte("stellaops"), 8<<20/9)
	desc := ocispec.Descriptor{Digest: digest.FromBytes(data), Size: int64(len(data))}
	buf := make([]byte, 256<<10)
	b.SetBytes(int64(len(data)))
	for b.Loop() {
		if _, err := io.CopyBuffer(io.Discard, NewVerifyReader(bytes.NewReader(data), desc), buf); err != nil {
			b.Fatal(err)
		}
	}
}
