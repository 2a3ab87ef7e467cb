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

// strayFiles makes a directory holding oci-layout and an empty sub, and
// returns it with a function that adds the files named name(i) to sub for
// i in [from, to).
func strayFiles(t *testing.T, sub string, name func(int) string) (dir string, add func(from, to int)) {
	t.Helper()
	dir = t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, layout.OCILayoutFile), []byte(`{"imageLayoutVersion":"1.0.0"}`), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Join(dir, sub), 0o755); err != nil {
		t.Fatal(err)
	}
	return dir, func(from, to int) {
		for i := from; i < to; i++ {
			f, err := os.Create(filepath.Join(dir, sub, name(i)))
			if err != nil {
				t.Fatal(err)
			}
			f.Close()
		}
	}
}

// allocatesFlat runs check once with n strays added and once with 2n:
// each must fail as malformed, and the second allocate no more than 256
// KiB more than the first (what reads a batch at a time costs the same
// whatever the directory holds).
func allocatesFlat(t *testing.T, what string, n int, add func(from, to int), check func() error) {
	t.Helper()
	run := func() uint64 {
		runtime.GC()
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		err := check()
		runtime.ReadMemStats(&after)
		if !errors.Is(err, errdef.ErrMalformed) {
			t.Fatalf("%s: err = %v, want the strays refused", what, err)
		}
		return after.TotalAlloc - before.TotalAlloc
	}
	add(0, n)
	small := run()
	add(n, 2*n)
	if large := run(); large > small+(256<<10) {
		t.Errorf("%s of %d strays allocated %d bytes, of %d: %d; want no more than 256 KiB more", what, 2*n, large, n, small)
	}
}

// strayBlobName names the i-th stray blob.
func strayBlobName(i int) string { return digest.FromString(fmt.Sprint(i)).Encoded() }

// TestCheckNoStrayFilesReadsInBatches: verify, sign, import, push and serve of a
// bundle directory refuse a file manifest.json does not name, but
// filepath.WalkDir read each directory whole, sorted, before the first of
// its files was refused: a stray directory of a million files held 190
// MiB. It is read a batch at a time: twice as many stray files cost no
// more (found by review).
func TestCheckNoStrayFilesReadsInBatches(t *testing.T) {
	dir, add := strayFiles(t, "junk", func(i int) string {
		return fmt.Sprintf("a-stray-file-that-manifest-json-does-not-name-%06d", i)
	})
	allocatesFlat(t, "a stray directory", 10000, add, func() error {
		return checkNoStrayFiles(layout.OpenTree(dir), &bundle.Manifest{})
	})
}

// TestCheckNoStrayBlobsReadsInBatches: a blob nothing in the bundle
// reaches is refused, but blobs/sha256 was read whole before the first
// was: a million stray files there held 170 MiB. It is read a batch at a
// time: twice as many stray blobs cost no more (found by review).
func TestCheckNoStrayBlobsReadsInBatches(t *testing.T) {
	dir, add := strayFiles(t, layout.BlobsDir+"/sha256", strayBlobName)
	d, err := layout.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	allocatesFlat(t, "blobs/sha256", 10000, add, func() error {
		return checkNoStrayBlobs(context.Background(), d, map[digest.Digest]bool{})
	})
}

// TestSignBoundsUnreachedBlobs: sign removes the blobs nothing in the
// bundle reaches (the old signature's, what a sign killed before its end
// left), but listed every one of them first, blobs/sha256 read whole: a
// million stray files there took sign past 100 MiB. More than a sign can
// leave are now refused as not part of the bundle (exit 11), blobs/sha256
// read a batch at a time, so that twice as many cost no more (found by
// review).
func TestSignBoundsUnreachedBlobs(t *testing.T) {
	dir, add := strayFiles(t, layout.BlobsDir+"/sha256", strayBlobName)
	d, err := layout.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	allocatesFlat(t, "sign's blobs/sha256", 10000, add, func() error {
		_, err := unreachedBlobs(d, map[digest.Digest]bool{})
		return err
	})
}
