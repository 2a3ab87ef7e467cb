package mirror

import (
	"context"
	"path/filepath"
	"runtime"
	"testing"
	"time"

	"github.com/stellaops/mirror/internal/sample"
	"github.com/stellaops/mirror/internal/testutil"
	"github.com/stellaops/mirror/pkg/bundle"
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
	host := testutil.Registry(t)
	_, releaseFile, _ := testutil.PushSample(t, host, sample.Spec{Images: images, BaseLayerSize: 1 << 10, LayerSize: 256})
	dir := filepath.Join(t.TempDir(), "bundle")
	if _, err := Create(ctx, CreateOptions{ReleaseFile: releaseFile, Output: dir, Created: time.Date(2025, 12, 1, 0, 0, 0, 0, time.UTC),
		Client: testutil.Client(t), Producer: bundle.Producer{Name: "t", Version: "t"}}); err != nil {
		t.Fatal(err)
	}
	src, err := openSource(ctx, dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer src.close()
	md, err := src.metadata(ctx)
	if err != nil {
		t.Fatal(err)
	}
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
