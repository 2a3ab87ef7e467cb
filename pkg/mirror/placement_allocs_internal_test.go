package mirror

import (
	"context"
	"testing"

	"github.com/stellaops/mirror/pkg/bundle"
)

// TestPlacementAllocations: import, push and sync hold the placement of a
// bundle until the last tag is written. Its sets of manifests and blobs
// already given a repository were keyed by a "repo@digest" string made for
// each (twenty-odd an image of the scale release, a hundred bytes each);
// the keys now share the descriptors' strings. An image's tag, and a
// referrer's cosign tag, read their manifest again from the source, a
// second copy of bytes the graph reader holds; they take those. Counted as
// allocations of planPlacement an image (reading and parsing each document
// from the bundle directory is most of them): 261 before, 232 with the
// keys, 214 with the tags' bytes shared.
func TestPlacementAllocations(t *testing.T) {
	if raceEnabled {
		t.Skip("the race detector's instrumentation allocates on its own")
	}
	ctx := context.Background()
	const images = 40
	_, dir := scaleBundle(t, images)
	md := openScaleBundle(t, dir)
	opts := placementOptions{bundleRepo: bundle.DefaultBundleRepository, mapImages: true}
	var p *placement
	var err error
	allocs := testing.AllocsPerRun(3, func() {
		if p, err = planPlacement(ctx, md, opts); err != nil {
			t.Fatal(err)
		}
	})
	if len(p.blobs) == 0 || len(p.images) == 0 {
		t.Fatal("nothing placed")
	}
	perImage := allocs / images
	t.Logf("planPlacement: %.0f allocations an image", perImage)
	if perImage > 225 {
		t.Errorf("planPlacement made %.0f allocations an image, want at most 225", perImage)
	}
}
