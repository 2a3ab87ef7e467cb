package mirror

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"testing"

	"github.com/opencontainers/go-digest"

	"github.com/stellaops/mirror/pkg/bundle"
	"github.com/stellaops/mirror/pkg/errdef"
	"github.com/stellaops/mirror/pkg/layout"
)

// TestCheckNoStrayFilesReadsInBatches: verify, sign, import, push and serve of a
// bundle directory refuse a file manifest.json does not name, but
// filepath.WalkDir read each directory whole, sorted, before the first of
// its files was refused: a stray directory of a million files held 190
// MiB. It is read a batch at a time: twice as many stray files cost no
// more (found by review).
func TestCheckNoStrayFilesReadsInBatches(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, layout.OCILayoutFile), []byte(`{"imageLayoutVersion":"1.0.0"}`), 0o644); err != nil {
		t.Fatal(err)
	}
	junk := filepath.Join(dir, "junk")
	if err := os.Mkdir(junk, 0o755); err != nil {
		t.Fatal(err)
	}
	const n = 10000
	add := func(from, to int) {
		for i := from; i < to; i++ {
			f, err := os.Create(filepath.Join(junk, fmt.Sprintf("a-stray-file-that-manifest-json-does-not-name-%06d", i)))
			if err != nil {
				t.Fatal(err)
			}
			f.Close()
		}
	}
	check := func() uint64 {
		runtime.GC()
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		err := checkNoStrayFiles(layout.OpenTree(dir), &bundle.Manifest{})
		runtime.ReadMemStats(&after)
		if !errors.Is(err, errdef.ErrMalformed) {
			t.Fatalf("err = %v, want a stray file refused", err)
		}
		return after.TotalAlloc - before.TotalAlloc
	}
	add(0, n)
	small := check()
	add(n, 2*n)
	if large := check(); large > small+(256<<10) {
		t.Errorf("a stray directory of %d files allocated %d bytes, of %d: %d; want no more than 256 KiB more", 2*n, large, n, small)
	}
}

// TestCheckNoStrayBlobsReadsInBatches: a blob nothing in the bundle
// reaches is refused, but blobs/sha256 was read whole before the first
// was: a million stray files there held 170 MiB. It is read a batch at a
// time: twice as many stray blobs cost no more (found by review).
func TestCheckNoStrayBlobsReadsInBatches(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, layout.OCILayoutFile), []byte(`{"imageLayoutVersion":"1.0.0"}`), 0o644); err != nil {
		t.Fatal(err)
	}
	blobs := filepath.Join(dir, layout.BlobsDir, "sha256")
	if err := os.MkdirAll(blobs, 0o755); err != nil {
		t.Fatal(err)
	}
	const n = 10000
	add := func(from, to int) {
		for i := from; i < to; i++ {
			f, err := os.Create(filepath.Join(blobs, digest.FromString(fmt.Sprint(i)).Encoded()))
			if err != nil {
				t.Fatal(err)
			}
			f.Close()
		}
	}
	d, err := layout.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	check := func() uint64 {
		runtime.GC()
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		err := checkNoStrayBlobs(context.Background(), d, map[digest.Digest]bool{})
		runtime.ReadMemStats(&after)
		if !errors.Is(err, errdef.ErrMalformed) {
			t.Fatalf("err = %v, want a stray blob refused", err)
		}
		return after.TotalAlloc - before.TotalAlloc
	}
	add(0, n)
	small := check()
	add(n, 2*n)
	if large := check(); large > small+(256<<10) {
		t.Errorf("blobs/sha256 of %d stray files allocated %d bytes, of %d: %d; want no more than 256 KiB more", 2*n, large, n, small)
	}
}

// TestSignBoundsUnreachedBlobs: sign removes the blobs nothing in the
// bundle reaches (the old signature's, what a sign killed before its end
// left), but listed every one of them first, blobs/sha256 read whole: a
// million stray files there took sign past 100 MiB. More than a sign can
// leave are now refused as not part of the bundle (exit 11), blobs/sha256
// read a batch at a time, so that twice as many cost no more (found by
// review).
func TestSignBoundsUnreachedBlobs(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, layout.OCILayoutFile), []byte(`{"imageLayoutVersion":"1.0.0"}`), 0o644); err != nil {
		t.Fatal(err)
	}
	blobs := filepath.Join(dir, layout.BlobsDir, "sha256")
	if err := os.MkdirAll(blobs, 0o755); err != nil {
		t.Fatal(err)
	}
	const n = 10000
	add := func(from, to int) {
		for i := from; i < to; i++ {
			f, err := os.Create(filepath.Join(blobs, digest.FromString(fmt.Sprint(i)).Encoded()))
			if err != nil {
				t.Fatal(err)
			}
			f.Close()
		}
	}
	d, err := layout.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	check := func() uint64 {
		runtime.GC()
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		_, err := unreachedBlobs(d, map[digest.Digest]bool{})
		runtime.ReadMemStats(&after)
		if !errors.Is(err, errdef.ErrMalformed) {
			t.Fatalf("err = %v, want %d blobs nothing reaches refused", err, n)
		}
		return after.TotalAlloc - before.TotalAlloc
	}
	add(0, n)
	small := check()
	add(n, 2*n)
	if large := check(); large > small+(256<<10) {
		t.Errorf("blobs/sha256 of %d stray files allocated %d bytes, of %d: %d; want no more than 256 KiB more", 2*n, large, n, small)
	}
}
