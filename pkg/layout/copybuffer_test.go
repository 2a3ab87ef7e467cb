package layout

import (
	"bytes"
	"context"
	"fmt"
	"runtime"
	"testing"

	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

// Push of many small blobs allocated a copyBufferSize buffer for each:
// 256 KiB per blob, gigabytes for a bundle of a few thousand small images.
// The buffers are recycled.
func TestPushSmallBlobsRecycleBuffers(t *testing.T) {
	if raceEnabled {
		t.Skip("the race detector makes sync.Pool drop buffers on purpose")
	}
	d := &Dir{root: t.TempDir()}
	const n = 200
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	for i := range n {
		data := []byte(fmt.Sprint("blob ", i))
		desc := ocispec.Descriptor{MediaType: "application/octet-stream", Digest: digest.FromBytes(data), Size: int64(len(data))}
		if err := d.Push(context.Background(), desc, bytes.NewReader(data)); err != nil {
			t.Fatal(err)
		}
	}
	runtime.ReadMemStats(&after)
	// A few buffers may be made again after a GC empties the pool; one a
	// blob is what must not happen.
	if got := after.TotalAlloc - before.TotalAlloc; got > n*copyBufferSize/4 {
		t.Fatalf("%d pushes of small blobs allocated %d bytes (%d a blob)", n, got, got/n)
	}
}

// Hashing a bundle's files (pack's check against SHA256SUMS, Checksums)
// went through io.CopyBuffer with the *os.File as source, which ignores the
// buffer given: each file was read in 32 KiB steps into a buffer allocated
// for it. Each file is read through the recycled copy buffer.
func TestHashFilesUseTheCopyBuffer(t *testing.T) {
	if raceEnabled {
		t.Skip("the race detector makes sync.Pool drop buffers on purpose")
	}
	d := &Dir{root: t.TempDir()}
	const n = 200
	var names []string
	want := map[string]digest.Digest{}
	for i := range n {
		data := bytes.Repeat([]byte{byte(i)}, 100<<10)
		desc := ocispec.Descriptor{MediaType: "application/octet-stream", Digest: digest.FromBytes(data), Size: int64(len(data))}
		if err := d.Push(context.Background(), desc, bytes.NewReader(data)); err != nil {
			t.Fatal(err)
		}
		names = append(names, BlobName(desc.Digest))
		want[BlobName(desc.Digest)] = desc.Digest
	}
	for _, tc := range []struct {
		name string
		hash func() error
	}{
		{"pack's check", func() error {
			for _, name := range names {
				if err := d.checkFile(context.Background(), name, want[name]); err != nil {
					return err
				}
			}
			return nil
		}},
		{"Checksums", func() error { _, err := d.Checksums(false); return err }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var before, after runtime.MemStats
			runtime.ReadMemStats(&before)
			if err := tc.hash(); err != nil {
				t.Fatal(err)
			}
			runtime.ReadMemStats(&after)
			// 32 KiB a file is what must not happen.
			if got := after.TotalAlloc - before.TotalAlloc; got > n*(32<<10)/4 {
				t.Fatalf("hashing %d files allocated %d bytes (%d a file)", n, got, got/n)
			}
		})
	}
}
