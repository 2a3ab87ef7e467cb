package layout

import (
	"archive/tar"
	"bytes"
	"io"
	"testing"

	"github.com/klauspost/compress/zstd"
)

// BenchmarkTarReader measures the stream reader over a plain and a zstd tar
// of 32 MiB in 1 MiB entries.
func BenchmarkTarReader(b *testing.B) {
	var plain bytes.Buffer
	tw := tar.NewWriter(&plain)
	body := bytes.Repeat([]byte{0x5a, 0xa5, 0x3c}, 1<<20/3)
	for i := 0; i < 32; i++ {
		tw.WriteHeader(&tar.Header{Name: "blobs/" + string(rune('a'+i%26)) + string(rune('a'+i/26)), Size: int64(len(body)), Mode: 0o644, Typeflag: tar.TypeReg})
		tw.Write(body)
	}
	tw.Close()
	var zs bytes.Buffer
	zw, _ := zstd.NewWriter(&zs, zstd.WithEncoderLevel(zstd.SpeedFastest))
	zw.Write(plain.Bytes())
	zw.Close()
	for name, data := range map[string][]byte{"plain": plain.Bytes(), "zstd": zs.Bytes()} {
		b.Run(name, func(b *testing.B) {
			b.SetBytes(int64(plain.Len()))
			buf := make([]byte, 256<<10)
			for b.Loop() {
				tr, err := NewTarReader(bytes.NewReader(data))
				if err != nil {
					b.Fatal(err)
				}
				for {
					if _, err := tr.Next(); err != nil {
						break
					}
					io.CopyBuffer(io.Discard, tr, buf)
				}
				tr.Close()
			}
		})
	}
}
