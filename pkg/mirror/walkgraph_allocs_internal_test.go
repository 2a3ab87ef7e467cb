package mirror

import (
	"context"
	"runtime"
	"testing"
)

// TestWalkGraphHoldsSizes: verify, inspect, serve and sign walk a bundle's
// whole graph, checking that descriptors of one digest agree on its size;
// the walk held a whole descriptor of every digest (120 bytes, a dozen an
// image) for that, where the size does. Counted as what the walk allocates
// an image (reading and parsing every document is most of it): 29431 bytes
// with the descriptors, 27000 now.
func TestWalkGraphHoldsSizes(t *testing.T) {
	ctx := context.Background()
	const images = 100
	_, dir := scaleBundle(t, images)
	md := openScaleBundle(t, dir)
	if _, err := walkGraph(ctx, md, nil); err != nil { // warm the file descriptors' cache
		t.Fatal(err)
	}
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	g, err := walkGraph(ctx, md, nil)
	runtime.ReadMemStats(&after)
	if err != nil || len(g.blobs) < images {
		t.Fatalf("walkGraph: %v", err)
	}
	perImage := (after.TotalAlloc - before.TotalAlloc) / images
	t.Logf("walkGraph: %d bytes an image", perImage)
	if perImage > 28<<10 {
		t.Errorf("walkGraph allocated %d bytes an image, want at most 28 KiB", perImage)
	}
}
