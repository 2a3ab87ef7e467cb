package mirror

import (
	"context"
	"path/filepath"
	"runtime"
	"testing"

	"github.com/stellaops/mirror/pkg/bundle"
)

// TestPlacementHoldsLittle: import, sync and serve hold the placement of a
// bundle, and so every manifest's bytes, from the start of the placement
// to the last tag; at 3000 images (about the most one bundle holds) the
// live heap of import .tar met the binary's 72 MiB soft limit, and the
// collector ran back to back (8700 collections, two thirds of the CPU).
// Measured as the heap the plan of a packed scale release holds after a
// collection, an image: 6519 bytes before; 3224 once bundle.ReadAll held
// each manifest in its size, not twice it, and the sets that keep the plan
// free of repeats went after planning; 2524 with an image's manifests
// shared by its two repositories, not a place of 160 bytes each. Those
// were the heap's growth while planning, which left out what the plan
// shares with the metadata, and moved with the registry and the client as
// much; measured now as what letting the plan go frees (the manifests'
// bytes, 3.5 KiB, and the digests the plan alone holds): 6837 bytes an
// image, 6528 with the graph reader's children kept compact.
func TestPlacementHoldsLittle(t *testing.T) {
	if raceEnabled {
		t.Skip("the race detector's instrumentation allocates on its own")
	}
	ctx := context.Background()
	const images = 200
	work, dir := scaleBundle(t, images)
	archive := filepath.Join(work, "bundle.tar")
	if _, err := Pack(ctx, PackOptions{Dir: dir, Output: archive}); err != nil {
		t.Fatal(err)
	}
	md := openScaleBundle(t, archive)
	opts := placementOptions{bundleRepo: bundle.DefaultBundleRepository, mapImages: true}
	p, err := planPlacement(ctx, md, opts)
	if err != nil {
		t.Fatal(err)
	}
	if len(p.images) < 5*images || len(p.tags) != images+1 {
		t.Fatalf("plan of %d image manifests and %d tags for %d images", len(p.images), len(p.tags), images)
	}
	// What the plan holds is what letting it go frees: the heap before
	// and after planning also moved with the registry, the client and
	// what sync.Pools let go, by as much as the plan (2471 and 4017 bytes
	// an image, two runs of the same code).
	var holding, released runtime.MemStats
	runtime.GC()
	runtime.GC() // the second frees what sync.Pools let go at the first
	runtime.ReadMemStats(&holding)
	runtime.KeepAlive(p)
	p = nil
	runtime.GC()
	runtime.GC()
	runtime.ReadMemStats(&released)
	perImage := (int64(holding.HeapAlloc) - int64(released.HeapAlloc)) / images
	t.Logf("the plan holds %d bytes an image", perImage)
	if perImage > 7<<10 {
		t.Errorf("the plan holds %d bytes an image, want at most 7 KiB", perImage)
	}
	runtime.KeepAlive(md)
}
