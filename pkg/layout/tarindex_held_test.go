package layout_test

import (
	"archive/tar"
	"bytes"
	"crypto/sha256"
	"fmt"
	"runtime"
	"slices"
	"strings"
	"testing"

	"github.com/stellaops/mirror/pkg/layout"
)

// TestTarIndexHoldsLittle: import and serve hold a plain tar's index from
// its first read to their end, an entry a blob (27,000 for 3000 images).
// It kept each entry under its name, "blobs/sha256/<hex>", a string of 80
// bytes and a pointer for the collector to follow: 140 bytes an entry
// held. Blob entries are now kept under their digest's 32 bytes, and every
// name (an uppercase one too, which is another name) is still found.
func TestTarIndexHoldsLittle(t *testing.T) {
	const blobs = 4000
	var names []string
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	add := func(name, body string) {
		if err := tw.WriteHeader(&tar.Header{Typeflag: tar.TypeReg, Name: name, Size: int64(len(body)), Mode: 0o644}); err != nil {
			t.Fatal(err)
		}
		if _, err := tw.Write([]byte(body)); err != nil {
			t.Fatal(err)
		}
		names = append(names, name)
	}
	add("index.json", "{}")
	for i := range blobs {
		body := fmt.Sprint(i)
		add(fmt.Sprintf("blobs/sha256/%x", sha256.Sum256([]byte(body))), body)
	}
	upper := "blobs/sha256/" + strings.ToUpper(fmt.Sprintf("%x", sha256.Sum256([]byte("upper"))))
	add(upper, "upper")
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	data := buf.Bytes()

	var before, after runtime.MemStats
	runtime.GC()
	runtime.GC() // the second frees what sync.Pools let go at the first
	runtime.ReadMemStats(&before)
	x, err := layout.IndexTar(bytes.NewReader(data), int64(len(data)))
	if err != nil {
		t.Fatal(err)
	}
	runtime.GC()
	runtime.ReadMemStats(&after)
	perEntry := (int64(after.HeapAlloc) - int64(before.HeapAlloc)) / blobs
	t.Logf("the index holds %d bytes an entry", perEntry)
	if perEntry > 64 {
		t.Errorf("the index holds %d bytes an entry, want at most 64", perEntry)
	}

	if x.Len() != len(names) {
		t.Fatalf("%d entries, want %d", x.Len(), len(names))
	}
	slices.Sort(names)
	if got := x.Names(); !slices.Equal(got, names) {
		t.Fatalf("names differ: %d listed, want %d", len(got), len(names))
	}
	for i, name := range names {
		sr, err := x.Section(name)
		if err != nil {
			t.Fatal(err)
		}
		body := make([]byte, sr.Size())
		if _, err := sr.ReadAt(body, 0); err != nil {
			t.Fatal(err)
		}
		if _, ok := x.Entry(name); !ok || (name != "index.json" && name != upper && name != fmt.Sprintf("blobs/sha256/%x", sha256.Sum256(body))) {
			t.Fatalf("entry %d %s holds %q", i, name, body)
		}
	}
	if _, ok := x.Entry(strings.ToLower(upper)); ok {
		t.Errorf("%s found under its lowercase name", upper)
	}
	runtime.KeepAlive(x)
}
