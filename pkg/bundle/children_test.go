package bundle

import (
	"errors"
	"strings"
	"testing"

	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/stellaops/mirror/pkg/errdef"
)

// An index may list only manifests and indexes: a registry takes an index
// only when it holds each entry as a manifest, and an entry of another
// media type (an OCI artifact manifest, which OCI 1.1 withdrew; a layer's
// type; none) would be carried as a blob, pushed to /blobs/, and the
// index's PUT refused at the far side. Children refuses it, naming the
// index, the entry and its media type. It took the entry as a blob.
func TestChildrenRefusesAnIndexEntryThatIsNoManifest(t *testing.T) {
	entry := digest.FromString("entry")
	for _, mt := range []string{"application/vnd.oci.artifact.manifest.v1+json", ocispec.MediaTypeImageLayerGzip, ""} {
		doc := []byte(`{"schemaVersion":2,"mediaType":"application/vnd.oci.image.index.v1+json","manifests":[` +
			`{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"` + digest.FromString("image").String() + `","size":2},` +
			`{"mediaType":"` + mt + `","digest":"` + entry.String() + `","size":2}]}`)
		desc := ocispec.Descriptor{MediaType: ocispec.MediaTypeImageIndex, Digest: digest.FromBytes(doc), Size: int64(len(doc))}
		_, err := Children(desc, doc)
		want := desc.Digest.String() + ": index lists " + entry.String() + " of media type \"" + mt + "\", not an image manifest or index"
		if !errors.Is(err, errdef.ErrMalformed) || !strings.HasPrefix(err.Error(), want) {
			t.Errorf("Children of an index listing a %q: %v, want ErrMalformed starting %q", mt, err, want)
		}
	}
}
