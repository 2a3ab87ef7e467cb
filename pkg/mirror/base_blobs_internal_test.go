package mirror

import (
	"context"
	"testing"

	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

// TestBaseHoldsEveryBlob: create --base reads its base while every image of
// the new release is held, resolved, so it walks the base once and keeps
// only its blobs' digests (it made a placement of the whole base, every
// descriptor and each blob's repositories, the children of every document
// kept, to read the same digests off it). They are every blob of the
// base's graph, as a placement of it finds them.
func TestBaseHoldsEveryBlob(t *testing.T) {
	ctx := context.Background()
	const images = 20
	_, dir, pub := signedScaleBundle(t, images)
	trust := TrustOptions{Keys: []string{pub}}

	// The blobs a placement of the base finds, as import would place it.
	md := openScaleBundle(t, dir)
	want := map[digest.Digest]bool{}
	if err := visitGraph(ctx, md.RootDesc, newGraphReader(md.Doc, false), func(d ocispec.Descriptor) { want[d.Digest] = true }, nil); err != nil {
		t.Fatal(err)
	}

	bi, err := loadBase(ctx, nil, dir, trust, nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(bi.held) != len(want) {
		t.Fatalf("base holds %d blobs, want %d", len(bi.held), len(want))
	}
	for d := range want {
		if !bi.held[d] {
			t.Fatalf("base misses blob %s", d)
		}
	}
}
