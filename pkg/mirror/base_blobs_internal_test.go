package mirror

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/stellaops/mirror/internal/sample"
	"github.com/stellaops/mirror/internal/testutil"
	"github.com/stellaops/mirror/pkg/bundle"
	"github.com/stellaops/mirror/pkg/layout"
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
	host := testutil.Registry(t)
	_, releaseFile, _ := testutil.PushSample(t, host, sample.Spec{Images: images, BaseLayerSize: 1 << 10, LayerSize: 256})
	work := t.TempDir()
	dir := filepath.Join(work, "bundle")
	if _, err := Create(ctx, CreateOptions{ReleaseFile: releaseFile, Output: dir, Created: time.Date(2025, 12, 1, 0, 0, 0, 0, time.UTC),
		Client: testutil.Client(t), Producer: bundle.Producer{Name: "t", Version: "t"}}); err != nil {
		t.Fatal(err)
	}
	pass := func() ([]byte, error) { return []byte("pw"), nil }
	kg, err := Keygen(KeygenOptions{OutputPrefix: filepath.Join(work, "k"), Password: pass})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Sign(ctx, SignOptions{Manifest: filepath.Join(dir, layout.ManifestFile), Output: filepath.Join(dir, layout.EnvelopeFile), Key: kg.PrivateKey, Password: pass}); err != nil {
		t.Fatal(err)
	}
	trust := TrustOptions{Keys: []string{kg.PublicKey}}

	// The blobs a placement of the base finds, as import would place it.
	src, err := openSource(ctx, dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer src.close()
	md, err := src.metadata(ctx)
	if err != nil {
		t.Fatal(err)
	}
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
