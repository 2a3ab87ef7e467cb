package layout

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"runtime"
	"testing"

	"github.com/stellaops/mirror/pkg/bundle"
	"github.com/stellaops/mirror/pkg/errdef"
)

// TestDirReadFileAllocatesItsSize: a head file (manifest.json, near 3 MiB
// for the largest bundle) is read into a buffer of its size, not one grown
// as it is read (io.ReadAll made 2.3 times its size); the bound still
// holds.
func TestDirReadFileAllocatesItsSize(t *testing.T) {
	root := t.TempDir()
	if err := os.WriteFile(filepath.Join(root, OCILayoutFile), ociLayoutContent, 0o644); err != nil {
		t.Fatal(err)
	}
	data := bytes.Repeat([]byte("stellaops\n"), (3<<20-256<<10)/10)
	if err := os.WriteFile(filepath.Join(root, ManifestFile), data, 0o644); err != nil {
		t.Fatal(err)
	}
	over := make([]byte, bundle.MaxManifestSize+1)
	if err := os.WriteFile(filepath.Join(root, "over.json"), over, 0o644); err != nil {
		t.Fatal(err)
	}
	d, err := Open(root)
	if err != nil {
		t.Fatal(err)
	}
	var got []byte
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	got, err = d.ReadFile(ManifestFile)
	runtime.ReadMemStats(&after)
	if err != nil || !bytes.Equal(got, data) {
		t.Fatalf("ReadFile: %d bytes, %v", len(got), err)
	}
	if n := after.TotalAlloc - before.TotalAlloc; n > uint64(len(data))*11/10 {
		t.Errorf("reading a %d-byte file allocated %d bytes (%.1fx), want at most 1.1x", len(data), n, float64(n)/float64(len(data)))
	}
	if _, err := d.ReadFile("over.json"); !errors.Is(err, errdef.ErrMalformed) {
		t.Errorf("a file over the bound: %v, want ErrMalformed", err)
	}
}
