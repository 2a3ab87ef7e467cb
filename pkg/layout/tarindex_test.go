package layout_test

import (
	"archive/tar"
	"bytes"
	"errors"
	"fmt"
	"io"
	"strings"
	"testing"

	"github.com/klauspost/compress/gzip"
	"github.com/klauspost/compress/zstd"

	"github.com/stellaops/mirror/pkg/errdef"
	"github.com/stellaops/mirror/pkg/layout"
)

type entry struct {
	hdr  tar.Header
	body string
}

func file(name, body string) entry {
	return entry{tar.Header{Typeflag: tar.TypeReg, Name: name, Size: int64(len(body)), Mode: 0o644}, body}
}

func buildTar(t *testing.T, format tar.Format, entries ...entry) []byte {
	t.Helper()
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, e := range entries {
		h := e.hdr
		h.Format = format
		if err := tw.WriteHeader(&h); err != nil {
			t.Fatal(err)
		}
		if _, err := io.WriteString(tw, e.body); err != nil {
			t.Fatal(err)
		}
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func TestIndexTarFindsEveryContent(t *testing.T) {
	long := "dir/" + strings.Repeat("n", 150) // needs a PAX or GNU long name
	for _, format := range []tar.Format{tar.FormatPAX, tar.FormatGNU} {
		// A PAX global header (as git archive writes one) whose records end
		// off a block boundary: the next header is found past its padding.
		global := entry{tar.Header{Typeflag: tar.TypeDir, Name: "./", Mode: 0o755}, ""}
		if format == tar.FormatPAX {
			global = entry{tar.Header{Typeflag: tar.TypeXGlobalHeader, Name: "pax_global_header", PAXRecords: map[string]string{"comment": strings.Repeat("c", 700)}}, ""}
		}
		data := buildTar(t, format, global,
			entry{tar.Header{Typeflag: tar.TypeDir, Name: "dir/", Mode: 0o755}, ""},
			file("index.json", `{"schemaVersion":2}`),
			file("./empty", ""),
			file(long, strings.Repeat("x", 1000)),
			file("blobs/sha256/"+strings.Repeat("a", 64), "layer bytes"),
		)
		x, err := layout.IndexTar(bytes.NewReader(data), int64(len(data)))
		if err != nil {
			t.Fatalf("%v: %v", format, err)
		}
		want := map[string]string{"index.json": `{"schemaVersion":2}`, "empty": "", long: strings.Repeat("x", 1000),
			"blobs/sha256/" + strings.Repeat("a", 64): "layer bytes"}
		if x.Len() != len(want) {
			t.Errorf("%v: %d entries, want %d", format, x.Len(), len(want))
		}
		for name, body := range want {
			e, ok := x.Entry(name)
			if !ok || string(data[e.Offset:e.Offset+e.Size]) != body {
				t.Errorf("%v: %s at %+v does not hold its content", format, name, e)
			}
			got, err := x.ReadFile(name)
			if err != nil || string(got) != body {
				t.Errorf("%v: ReadFile(%s) = %q, %v", format, name, got, err)
			}
		}
		if _, err := x.ReadFile("missing"); !errors.Is(err, errdef.ErrNotFound) {
			t.Errorf("missing file: %v", err)
		}
	}
}

func TestIndexTarRefusesHostileArchives(t *testing.T) {
	good := file("index.json", "{}")
	var gz, zs bytes.Buffer
	zw := gzip.NewWriter(&gz)
	zw.Write(buildTar(t, tar.FormatPAX, good))
	zw.Close()
	ze, _ := zstd.NewWriter(&zs)
	ze.Write(buildTar(t, tar.FormatPAX, good))
	ze.Close()
	truncated := buildTar(t, tar.FormatPAX, good, file("big", strings.Repeat("z", 5000)))
	truncated = truncated[:2048]
	// archive/tar does not write GNU sparse records: write the PAX header
	// as a plain file, then make it one.
	rec := "26 GNU.sparse.numblocks=1\n22 GNU.sparse.map=0,3\n"
	sparse := buildTar(t, tar.FormatUSTAR, file("PaxHeaders/sparse", rec), file("sparse", "abc"))
	retype(sparse[:512], tar.TypeXHeader)

	tests := []struct {
		name    string
		data    []byte
		wantErr error
		wantMsg string
	}{
		{"gzip", gz.Bytes(), errdef.ErrUsage, "gzip-compressed"},
		{"zstd", zs.Bytes(), errdef.ErrUsage, "zstd-compressed"},
		{"symlink", buildTar(t, tar.FormatPAX, good, entry{tar.Header{Typeflag: tar.TypeSymlink, Name: "blobs", Linkname: "/etc"}, ""}), errdef.ErrMalformed, "symlink"},
		{"hardlink", buildTar(t, tar.FormatPAX, good, entry{tar.Header{Typeflag: tar.TypeLink, Name: "x", Linkname: "index.json"}, ""}), errdef.ErrMalformed, "hardlink"},
		{"device", buildTar(t, tar.FormatPAX, entry{tar.Header{Typeflag: tar.TypeChar, Name: "dev"}, ""}), errdef.ErrMalformed, "character device"},
		{"dot-dot", buildTar(t, tar.FormatPAX, file("../escape", "x")), errdef.ErrMalformed, "../escape"},
		{"absolute", buildTar(t, tar.FormatPAX, file("/etc/passwd", "x")), errdef.ErrMalformed, "/etc/passwd"},
		{"inner dot-dot", buildTar(t, tar.FormatPAX, file("blobs/../../x", "x")), errdef.ErrMalformed, "not a clean"},
		{"duplicate", buildTar(t, tar.FormatPAX, good, good), errdef.ErrMalformed, "appears twice"},
		{"sparse", sparse, errdef.ErrMalformed, "sparse"},
		{"truncated", truncated, errdef.ErrMalformed, "truncated"},
		{"empty", buildTar(t, tar.FormatPAX), errdef.ErrMalformed, "no files"},
		{"garbage", bytes.Repeat([]byte("not a tar "), 100), errdef.ErrMalformed, "archive"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := layout.IndexTar(bytes.NewReader(tt.data), int64(len(tt.data)))
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("err = %v, want %v", err, tt.wantErr)
			}
			if !strings.Contains(err.Error(), tt.wantMsg) {
				t.Errorf("error %q does not say %q", err, tt.wantMsg)
			}
		})
	}
}

// retype changes the type of the tar header block hdr and fixes its
// checksum.
func retype(hdr []byte, flag byte) {
	hdr[156] = flag
	copy(hdr[148:156], "        ")
	sum := 0
	for _, b := range hdr {
		sum += int(b)
	}
	copy(hdr[148:156], fmt.Sprintf("%06o\x00 ", sum))
}

// TestTarReaderSharesIndexRules checks that the stream reader refuses what
// the index refuses: the rules are one function.
func TestTarReaderSharesIndexRules(t *testing.T) {
	data := buildTar(t, tar.FormatPAX, file("a", "1"), entry{tar.Header{Typeflag: tar.TypeSymlink, Name: "b", Linkname: "a"}, ""})
	tr, err := layout.NewTarReader(bytes.NewReader(data))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tr.Next(); err != nil {
		t.Fatal(err)
	}
	if _, err := tr.Next(); !errors.Is(err, errdef.ErrMalformed) {
		t.Fatalf("symlink: %v", err)
	}
}
