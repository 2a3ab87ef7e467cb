package mirror

import (
	"context"
	"path/filepath"
	"runtime"
	"testing"

	"github.com/stellaops/mirror/pkg/bundle"
)

// TestImportHoldsLittle: what import holds of a signed bundle tar from
// its plan to its last tag (the source, its metadata and the placement)
// is the live heap of the largest bundle, and once it nears the goal the
// binary's 72 MiB soft limit leaves, the collector runs back to back and
// the process sits at the limit (import .tar at 3000 images: 53 MB live of
// a 58 MB goal, 92 MiB of RSS). Measured as the heap held after a
// collection, as what letting them go frees, an image of the scale
// release: 15,389 bytes before, where the source kept every head file it
// had read whole (manifest.json, its envelope, SHA256SUMS and index.json),
// the plan the files referrer's SHA256SUMS, the metadata index.json and
// the root parsed, and the tar index every entry's name; 8315 now.
func TestImportHoldsLittle(t *testing.T) {
	ctx := context.Background()
	const images = 200
	work, dir, pub := signedScaleBundle(t, images)
	archive := filepath.Join(work, "bundle.tar")
	if _, err := Pack(ctx, PackOptions{Dir: dir, Output: archive}); err != nil {
		t.Fatal(err)
	}
	src, err := openSource(ctx, archive, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := verifyBundleSignature(ctx, src.file, TrustOptions{Keys: []string{pub}}); err != nil {
		t.Fatal(err)
	}
	md, err := src.metadata(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := src.checkStructure(ctx, md); err != nil {
		t.Fatal(err)
	}
	p, err := planPlacement(ctx, md, placementOptions{bundleRepo: bundle.DefaultBundleRepository, mapImages: true})
	if err != nil {
		t.Fatal(err)
	}
	if len(p.images) < 5*images || p.files == nil {
		t.Fatalf("plan of %d image manifests, files referrer %v, for %d images", len(p.images), p.files != nil, images)
	}
	// What import holds is what letting it go frees.
	var holding, released runtime.MemStats
	runtime.GC()
	runtime.GC() // the second frees what sync.Pools let go at the first
	runtime.ReadMemStats(&holding)
	runtime.KeepAlive(src)
	runtime.KeepAlive(md)
	runtime.KeepAlive(p)
	src.close()
	src, md, p = nil, nil, nil
	runtime.GC()
	runtime.GC()
	runtime.ReadMemStats(&released)
	perImage := (int64(holding.HeapAlloc) - int64(released.HeapAlloc)) / images
	t.Logf("import holds %d bytes an image", perImage)
	if perImage > 9<<10 {
		t.Errorf("import holds %d bytes an image, want at most 9 KiB", perImage)
	}
}
