package layout

import (
	"archive/tar"
	"bytes"
	"io"
	"testing"

	"github.com/klauspost/compress/zstd"
)

// TestTrailingAfterTheTar: what follows a tar's end other than its zero
// padding (GNU tar pads to its 10 KiB record) is told, exactly where it
// lies, by the stream reader and the index alike; and after a compressed
// stream, bytes it does not decode, but not the zeros a tape pads with.
func TestTrailingAfterTheTar(t *testing.T) {
	var b bytes.Buffer
	tw := tar.NewWriter(&b)
	content := []byte("content")
	if err := tw.WriteHeader(&tar.Header{Name: "a", Size: int64(len(content)), Mode: 0o644, Typeflag: tar.TypeReg}); err != nil {
		t.Fatal(err)
	}
	tw.Write(content)
	tw.Close()
	plain := append(b.Bytes(), make([]byte, 10240-b.Len()%10240)...) // GNU tar's record
	end := int64(len(plain))
	compress := func(data []byte) []byte {
		var out bytes.Buffer
		zw, _ := zstd.NewWriter(&out)
		zw.Write(data)
		zw.Close()
		return out.Bytes()
	}
	for _, tt := range []struct {
		name string
		data []byte
		want Trailing
	}{
		{"padded", plain, Trailing{}},
		{"junk", append(bytes.Clone(plain), "junk"...), Trailing{Offset: end, Size: 4}},
		{"zstd padded", compress(plain), Trailing{}},
		{"zstd, zeros after", append(compress(plain), make([]byte, 512)...), Trailing{}},
		{"zstd, junk after", append(compress(plain), "junk junk"...), Trailing{Offset: end, Size: -1, AfterStream: true}},
		{"zstd, junk inside", compress(append(bytes.Clone(plain), "junk"...)), Trailing{Offset: end, Size: 4}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			tr, err := NewTarReader(bytes.NewReader(tt.data))
			if err != nil {
				t.Fatal(err)
			}
			defer tr.Close()
			for {
				if _, err := tr.Next(); err == io.EOF {
					break
				} else if err != nil {
					t.Fatal(err)
				}
			}
			got, err := tr.Trailing()
			if err != nil || got != tt.want {
				t.Errorf("stream: %+v, %v, want %+v", got, err, tt.want)
			}
			if SniffCompression(bytes.NewReader(tt.data)) != None {
				return
			}
			x, err := IndexTar(bytes.NewReader(tt.data), int64(len(tt.data)))
			if err != nil {
				t.Fatal(err)
			}
			if got, err := x.Trailing(); err != nil || got != tt.want {
				t.Errorf("index: %+v, %v, want %+v", got, err, tt.want)
			}
		})
	}
}
