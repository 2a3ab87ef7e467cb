package mirror

import (
	"fmt"
	"os"
	"slices"
	"strconv"
	"testing"

	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

// sharedBlobPlacement adds, as planPlacement does for a release of n images
// that share a base layer, that layer and each image's own layer to the
// image's repository and to the bundle repository.
func sharedBlobPlacement(n int) *placement {
	p := newPlacement("")
	base := ocispec.Descriptor{MediaType: ocispec.MediaTypeImageLayerGzip, Digest: digest.FromString("base"), Size: 4}
	for i := range n {
		own := ocispec.Descriptor{MediaType: ocispec.MediaTypeImageLayerGzip, Digest: digest.FromString(fmt.Sprint(i)), Size: 4}
		for _, repo := range []string{fmt.Sprintf("stellaops/img-%05d", i), "stellaops/mirror-bundle"} {
			for range 2 { // two platforms, each naming the base
				p.addBlob(repo, base)
			}
			p.addBlob(repo, own)
		}
	}
	return p
}

// TestAddBlobRepositories: a blob every image shares lists every
// repository once, in the order they were added, the first where its bytes
// go.
func TestAddBlobRepositories(t *testing.T) {
	const n = 50
	p := sharedBlobPlacement(n)
	if len(p.blobs) != n+1 {
		t.Fatalf("%d blobs, want %d", len(p.blobs), n+1)
	}
	var want []string
	for i := range n {
		want = append(want, fmt.Sprintf("stellaops/img-%05d", i))
		if i == 0 {
			want = append(want, "stellaops/mirror-bundle")
		}
	}
	if got := p.blobs[0].repos; !slices.Equal(got, want) {
		t.Fatalf("base layer repositories %v, want %v", got, want)
	}
	if got := p.blobs[1].repos; !slices.Equal(got, []string{"stellaops/img-00000", "stellaops/mirror-bundle"}) {
		t.Fatalf("own layer repositories %v", got)
	}
}

// BenchmarkAddBlobShared places a base layer shared by STELLA_BENCH_IMAGES
// images (default 2000): the cost per image must not grow with the number
// of repositories that already hold the layer.
func BenchmarkAddBlobShared(b *testing.B) {
	n := 2000
	if v, err := strconv.Atoi(os.Getenv("STELLA_BENCH_IMAGES")); err == nil && v > 0 {
		n = v
	}
	for b.Loop() {
		sharedBlobPlacement(n)
	}
}
