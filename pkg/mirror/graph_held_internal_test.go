package mirror

import (
	"context"
	"runtime"
	"testing"

	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

// TestGraphReaderHoldsLittle: planning a placement walks every image's
// graph with one graphReader, which keeps every document's children until
// the plan is made, the peak of import and serve. It kept them as the
// documents have them, whole (annotations, platforms, every string one of
// its own): 9 MB at 3000 images of the scale release. It now keeps what
// the walks use, each media type held once.
func TestGraphReaderHoldsLittle(t *testing.T) {
	ctx := context.Background()
	const images = 200
	_, dir := scaleBundle(t, images)
	md := openScaleBundle(t, dir)
	g := newGraphReader(md.Doc, false)
	blobs := 0
	for _, img := range md.Manifest.Images {
		if err := visitGraph(ctx, imageDesc(img), g, func(ocispec.Descriptor) { blobs++ }, nil); err != nil {
			t.Fatal(err)
		}
	}
	if blobs < 3*images {
		t.Fatalf("%d blobs below %d images", blobs, images)
	}
	// What the reader holds is what letting it go frees.
	var holding, released runtime.MemStats
	runtime.GC()
	runtime.GC() // the second frees what sync.Pools let go at the first
	runtime.ReadMemStats(&holding)
	runtime.KeepAlive(g)
	g = nil
	runtime.GC()
	runtime.GC()
	runtime.ReadMemStats(&released)
	perImage := (int64(holding.HeapAlloc) - int64(released.HeapAlloc)) / images
	t.Logf("the graph reader holds %d bytes an image", perImage)
	if perImage > 2048 {
		t.Errorf("the graph reader holds %d bytes an image, want at most 2 KiB", perImage)
	}
}
