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
