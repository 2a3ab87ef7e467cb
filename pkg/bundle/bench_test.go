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

// BenchmarkCanonical measures writing, and checking against its canonical
// form, a manifest.json near the bound (2300 two-platform images with an
// SBOM each, 1000 advisories): what every command that reads or writes a
// bundle pays once, and holds while it does.
func BenchmarkCanonical(b *testing.B) {
	m := scaleManifest(2300, 1000)
	data, err := m.Marshal()
	if err != nil {
		b.Fatal(err)
	}
	b.Run("write", func(b *testing.B) {
		b.SetBytes(int64(len(data)))
		b.ReportAllocs()
		for b.Loop() {
			if _, err := Canonical(m); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("check", func(b *testing.B) {
		b.SetBytes(int64(len(data)))
		b.ReportAllocs()
		for b.Loop() {
			if at, err := canonicalDifference(m, data); err != nil || at >= 0 {
				b.Fatal(at, err)
			}
		}
	})
	b.Run("parse", func(b *testing.B) {
		b.SetBytes(int64(len(data)))
		b.ReportAllocs()
		for b.Loop() {
			if _, err := ParseManifest(data); err != nil {
				b.Fatal(err)
			}
		}
	})
}
