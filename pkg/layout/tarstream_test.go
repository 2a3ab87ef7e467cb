package layout

import (
	"archive/tar"
	"bytes"
	"errors"
	"io"
	"strings"
	"testing"

	"github.com/klauspost/compress/gzip"
	"github.com/klauspost/compress/zstd"

	"github.com/stellaops/mirror/pkg/errdef"
)

type entry struct {
	name     string
	typeflag byte
	body     string
	link     string
}

func makeTar(t *testing.T, entries ...entry) []byte {
	t.Helper()
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, e := range entries {
		hdr := &tar.Header{Name: e.name, Typeflag: e.typeflag, Mode: 0o644, Size: int64(len(e.body)), Linkname: e.link}
		if e.typeflag != tar.TypeReg {
			hdr.Size = 0
		}
		if err := tw.WriteHeader(hdr); err != nil {
			t.Fatal(err)
		}
		if hdr.Size > 0 {
			tw.Write([]byte(e.body))
		}
	}
	tw.Close()
	return buf.Bytes()
}

func readAll(r io.Reader) ([]string, error) {
	tr, err := NewTarReader(r)
	if err != nil {
		return nil, err
	}
	defer tr.Close()
	var names []string
	for {
		e, err := tr.Next()
		if err == io.EOF {
			return names, nil
		}
		if err != nil {
			return names, err
		}
		if _, err := io.Copy(io.Discard, tr); err != nil {
			return names, err
		}
		names = append(names, e.Name)
	}
}

func TestTarReaderRefusesHostileEntries(t *testing.T) {
	ok := entry{name: "oci-layout", typeflag: tar.TypeReg, body: "{}"}
	tests := []struct {
		name  string
		entry entry
		want  string
	}{
		{"dotdot", entry{name: "../evil", typeflag: tar.TypeReg, body: "x"}, "../evil"},
		{"nested dotdot", entry{name: "blobs/../../evil", typeflag: tar.TypeReg, body: "x"}, "blobs/../../evil"},
		{"absolute", entry{name: "/etc/passwd", typeflag: tar.TypeReg, body: "x"}, "/etc/passwd"},
		{"symlink", entry{name: "link", typeflag: tar.TypeSymlink, link: "/etc/passwd"}, "symlink entries are refused"},
		{"hardlink", entry{name: "hard", typeflag: tar.TypeLink, link: "oci-layout"}, "hardlink entries are refused"},
		{"char device", entry{name: "dev", typeflag: tar.TypeChar}, "character device"},
		{"block device", entry{name: "blk", typeflag: tar.TypeBlock}, "block device"},
		{"fifo", entry{name: "fifo", typeflag: tar.TypeFifo}, "fifo"},
		{"duplicate", ok, "appears twice"},
		{"backslash", entry{name: "a\\b", typeflag: tar.TypeReg, body: "x"}, "forbidden character"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := readAll(bytes.NewReader(makeTar(t, ok, tt.entry)))
			if !errors.Is(err, errdef.ErrMalformed) || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("err = %v, want ErrMalformed naming %q", err, tt.want)
			}
		})
	}
}

func TestTarReaderCodecsAndTruncation(t *testing.T) {
	plain := makeTar(t, entry{name: "./oci-layout", typeflag: tar.TypeReg, body: "{}"}, entry{name: "blobs/", typeflag: tar.TypeDir},
		entry{name: "blobs/x", typeflag: tar.TypeReg, body: strings.Repeat("a", 5000)})
	var gz, zs bytes.Buffer
	zw := gzip.NewWriter(&gz)
	zw.Write(plain)
	zw.Close()
	ze, _ := zstd.NewWriter(&zs)
	ze.Write(plain)
	ze.Close()
	for name, data := range map[string][]byte{"plain": plain, "gzip": gz.Bytes(), "zstd": zs.Bytes()} {
		names, err := readAll(bytes.NewReader(data))
		if err != nil || strings.Join(names, ",") != "oci-layout,blobs/x" {
			t.Errorf("%s: %v %v", name, names, err)
		}
		// Cut inside the second file's content.
		cut := data[:len(data)*3/4]
		if name == "plain" {
			cut = data[:512*3+100]
		}
		if _, err := readAll(bytes.NewReader(cut)); !errors.Is(err, errdef.ErrMalformed) {
			t.Errorf("%s truncated: err = %v, want ErrMalformed", name, err)
		}
	}
}

func TestTarReaderLimit(t *testing.T) {
	data := makeTar(t, entry{name: "a", typeflag: tar.TypeReg, body: strings.Repeat("a", 10000)}, entry{name: "b", typeflag: tar.TypeReg, body: "b"})
	tr, _ := NewTarReader(bytes.NewReader(data))
	tr.SetLimit(4096)
	_, err := tr.Next()
	if !errors.Is(err, errdef.ErrMalformed) || !strings.Contains(err.Error(), `"a": 10000 bytes`) {
		t.Fatalf("err = %v", err)
	}
	// A limit lowered under an entry being read still bites.
	tr, _ = NewTarReader(bytes.NewReader(data))
	tr.Next()
	tr.SetLimit(4096)
	if _, err = io.Copy(io.Discard, tr); !errors.Is(err, errdef.ErrMalformed) || !strings.Contains(err.Error(), "beyond what the bundle declares") {
		t.Fatalf("err = %v", err)
	}
}

// TestTarReaderRefusesBombs reads a gzip stream of a few kilobytes whose
// one entry claims 64 GiB of zeros (and holds the first 64 MiB of them):
// the reader refuses it at its header, having decompressed nothing of it.
// It used to skip (inflate) the whole entry before looking at the limit.
func TestTarReaderRefusesBombs(t *testing.T) {
	var hdr bytes.Buffer
	tw := tar.NewWriter(&hdr)
	tw.WriteHeader(&tar.Header{Name: "blobs/sha256/bomb", Size: 64 << 30, Mode: 0o644, Typeflag: tar.TypeReg, Format: tar.FormatPAX})
	var gz bytes.Buffer
	zw := gzip.NewWriter(&gz)
	zw.Write(hdr.Bytes())
	zw.Write(make([]byte, 64<<20))
	zw.Close()
	tr, err := NewTarReader(bytes.NewReader(gz.Bytes()))
	if err != nil {
		t.Fatal(err)
	}
	tr.SetLimit(1 << 20)
	_, err = tr.Next()
	if !errors.Is(err, errdef.ErrMalformed) || !strings.Contains(err.Error(), "blobs/sha256/bomb") {
		t.Fatalf("err = %v", err)
	}
	if tr.BytesRead() > 64<<10 {
		t.Errorf("read %d bytes of the bomb", tr.BytesRead())
	}
}

func FuzzTarReader(f *testing.F) {
	f.Add([]byte{})
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	tw.WriteHeader(&tar.Header{Name: "index.json", Size: 2, Mode: 0o644})
	tw.Write([]byte("{}"))
	tw.Close()
	f.Add(buf.Bytes())
	f.Fuzz(func(t *testing.T, data []byte) {
		tr, err := NewTarReader(bytes.NewReader(data))
		if err != nil {
			return
		}
		tr.SetLimit(1 << 20)
		for i := 0; i < 1000; i++ {
			e, err := tr.Next()
			if err != nil {
				break
			}
			if strings.HasPrefix(e.Name, "/") || strings.Contains("/"+e.Name+"/", "/../") {
				t.Fatalf("accepted escaping name %q", e.Name)
			}
			if _, err := io.Copy(io.Discard, tr); err != nil {
				break
			}
		}
		tr.Close()
		fuzzHead(t, data)
	})
}

// fuzzHead reads data as import reads a bundle's head: ReadHead, then (for
// an archive not in pack order) a scan of the rest. Whatever it meets, it
// must end with nil or an error saying the archive is malformed or does not
// match its descriptors.
func fuzzHead(t *testing.T, data []byte) {
	tr, err := NewTarReader(bytes.NewReader(data))
	if err != nil {
		return
	}
	defer tr.Close()
	tr.SetLimit(1 << 20)
	head, pending, err := ReadHead(tr)
	for i := 0; err == nil && pending != nil && !head.Complete() && i < 1000; i++ {
		if err = head.Scan(tr, pending); err == nil {
			pending, err = tr.Next()
		}
	}
	if err != nil && err != io.EOF && !errors.Is(err, errdef.ErrMalformed) && !errors.Is(err, errdef.ErrDigestMismatch) {
		t.Fatalf("head: error %v is neither ErrMalformed nor ErrDigestMismatch", err)
	}
	if err == nil {
		head.Missing()
	}
}
