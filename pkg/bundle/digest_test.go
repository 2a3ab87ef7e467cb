package bundle

import (
	"bytes"
	"errors"
	"io"
	"testing"

	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/stellaops/mirror/pkg/errdef"
)

// go-digest's Algorithm and Encoded panic on a digest without a colon.
// Every digest a bundle or archive brings is checked with Validate first;
// FuzzParseManifest found manifest.json with an image lacking its digest
// crashing ParseManifest (testdata/fuzz/FuzzParseManifest/crash-*), and a
// manifest reached from index.json whose config digest is empty crashed
// Children before any signature was checked.
func TestMalformedDigestsAreRefused(t *testing.T) {
	for _, dg := range []digest.Digest{"", "sha256", "nocolon", "sha256:", ":abc"} {
		t.Run(string(dg), func(t *testing.T) {
			if err := validDigest(dg); err == nil {
				t.Error("validDigest accepted it")
			}
			doc := []byte(`{"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{"mediaType":"x","digest":"` + string(dg) + `","size":2},"layers":[]}`)
			desc := ocispec.Descriptor{MediaType: ocispec.MediaTypeImageManifest, Digest: digest.FromBytes(doc), Size: int64(len(doc))}
			if _, err := Children(desc, doc); !errors.Is(err, errdef.ErrMalformed) {
				t.Errorf("Children: err = %v", err)
			}
			vr := NewVerifyReader(bytes.NewReader([]byte("{}")), ocispec.Descriptor{Digest: dg, Size: 2})
			if _, err := io.ReadAll(vr); !errors.Is(err, errdef.ErrMalformed) {
				t.Errorf("VerifyReader: err = %v", err)
			}
		})
	}
}
