package mirror

import (
	"context"
	"encoding/json"
	"fmt"
	"testing"

	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

// TestGraphReaderReadsSharedIndexOnce walks many images over one index
// they share, as a hostile bundle's thousands of images over one 4 MiB
// index would: the index is read and parsed once, not once a walk (inspect
// spent 114 ms a walk on such an index), and every walk still reaches all
// of it.
func TestGraphReaderReadsSharedIndexOnce(t *testing.T) {
	docs := map[digest.Digest][]byte{}
	put := func(mediaType string, v any) ocispec.Descriptor {
		data, err := json.Marshal(v)
		if err != nil {
			t.Fatal(err)
		}
		d := ocispec.Descriptor{MediaType: mediaType, Digest: digest.FromBytes(data), Size: int64(len(data))}
		docs[d.Digest] = data
		return d
	}
	layer := func(i int) ocispec.Descriptor {
		return ocispec.Descriptor{MediaType: ocispec.MediaTypeImageLayer, Digest: digest.FromString(fmt.Sprint("layer", i)), Size: int64(i + 1)}
	}
	config := ocispec.Descriptor{MediaType: ocispec.MediaTypeImageConfig, Digest: digest.FromString("config"), Size: 2}
	var platforms []ocispec.Descriptor
	for i := range 3 {
		platforms = append(platforms, put(ocispec.MediaTypeImageManifest, map[string]any{
			"schemaVersion": 2, "mediaType": ocispec.MediaTypeImageManifest, "config": config, "layers": []ocispec.Descriptor{layer(i)},
		}))
	}
	shared := put(ocispec.MediaTypeImageIndex, map[string]any{"schemaVersion": 2, "mediaType": ocispec.MediaTypeImageIndex, "manifests": platforms})
	reads := map[digest.Digest]int{}
	doc := func(_ context.Context, d ocispec.Descriptor) ([]byte, error) {
		reads[d.Digest]++
		return docs[d.Digest], nil
	}
	g := newGraphReader(doc, false)
	const images = 50
	for i := range images {
		top := put(ocispec.MediaTypeImageIndex, map[string]any{"schemaVersion": 2, "mediaType": ocispec.MediaTypeImageIndex, "manifests": []ocispec.Descriptor{shared}, "annotations": map[string]string{"n": fmt.Sprint(i)}})
		blobs := map[digest.Digest]bool{}
		var manifests int
		err := visitGraph(context.Background(), top, g, func(d ocispec.Descriptor) { blobs[d.Digest] = true }, func(d ocispec.Descriptor, data []byte) {
			if data != nil {
				t.Fatalf("a reader that keeps no bytes handed %s's", d.Digest)
			}
			manifests++
		})
		if err != nil {
			t.Fatal(err)
		}
		if len(blobs) != 4 || manifests != 5 {
			t.Fatalf("walk %d reached %d blobs and %d manifests, want 4 (config, 3 layers) and 5", i, len(blobs), manifests)
		}
	}
	if reads[shared.Digest] != 1 {
		t.Fatalf("the shared index was read %d times by %d walks, want once", reads[shared.Digest], images)
	}
	for _, p := range platforms {
		if reads[p.Digest] != 1 {
			t.Fatalf("platform manifest %s was read %d times, want once", p.Digest, reads[p.Digest])
		}
	}
	// Kept bytes are handed to every walk, the first and the later ones.
	kept := newGraphReader(doc, true)
	for range 2 {
		err := visitGraph(context.Background(), shared, kept, func(ocispec.Descriptor) {}, func(d ocispec.Descriptor, data []byte) {
			if string(data) != string(docs[d.Digest]) {
				t.Fatalf("%s: handed %d bytes, want its %d", d.Digest, len(data), len(docs[d.Digest]))
			}
		})
		if err != nil {
			t.Fatal(err)
		}
	}
}
