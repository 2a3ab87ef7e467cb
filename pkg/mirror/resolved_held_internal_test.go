package mirror

import (
	"context"
	"runtime"
	"testing"

	"github.com/stellaops/mirror/internal/sample"
	"github.com/stellaops/mirror/internal/testutil"
)

// TestResolvedImagesHoldLittle: create holds every image of a release,
// resolved, from their walk until manifest.json is written; for thousands
// of images that is most of what it holds. Each image's graph kept the
// children of every manifest (every descriptor of the image a second time),
// its lookups, and the release's document budget (a lookup and a channel a
// document) for walks that were over: 10.8 KiB an image of the scale
// release (two platforms and an SBOM each), now 7.8. Measured after a
// collection, with the images in hand.
func TestResolvedImagesHoldLittle(t *testing.T) {
	ctx := context.Background()
	const images = 300
	host := testutil.Registry(t)
	_, releaseFile, _ := testutil.PushSample(t, host, sample.Spec{Images: images, BaseLayerSize: 1 << 10, LayerSize: 256})
	rel, err := readRelease(releaseFile)
	if err != nil {
		t.Fatal(err)
	}
	opts := &CreateOptions{ReleaseFile: releaseFile, Client: testutil.Client(t)}
	// A first resolution warms what any run allocates once (connections,
	// the client's caches), which is not the images'.
	if _, err := resolveImages(ctx, opts.Client, rel.Images, opts); err != nil {
		t.Fatal(err)
	}
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	resolved, err := resolveImages(ctx, opts.Client, rel.Images, opts)
	if err != nil {
		t.Fatal(err)
	}
	runtime.GC()
	runtime.ReadMemStats(&after)
	held := int64(after.HeapAlloc) - int64(before.HeapAlloc)
	perImage := held / images
	t.Logf("%d resolved images hold %d bytes, %d an image", len(resolved), held, perImage)
	if perImage > 9<<10 {
		t.Errorf("a resolved image holds %d bytes, want at most 9 KiB", perImage)
	}
	runtime.KeepAlive(resolved)
}
