package bundle

import (
	"bytes"
	"errors"
	"io"
	"testing"
	"testing/iotest"

	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/stellaops/mirror/pkg/errdef"
)

// TestReadAllHoldsItsSize: import, sync and serve hold every manifest
// ReadAll returned until the last one is pushed or served. It sized its
// buffer to the content, then grew it to read the end of the stream: every
// manifest was held in twice its size (15 MB for the 6.7 MB of manifests
// of 3000 images). The buffer is now exactly the content, and what is too
// long, too short or altered is still refused.
func TestReadAllHoldsItsSize(t *testing.T) {
	content := bytes.Repeat([]byte(`{"mediaType":"application/vnd.oci.image.manifest.v1+json"}`), 12)
	desc := ocispec.Descriptor{Digest: digest.FromBytes(content), Size: int64(len(content))}
	for how, r := range map[string]io.Reader{
		"plain":       bytes.NewReader(content),
		"byte a read": iotest.OneByteReader(bytes.NewReader(content)),
		"EOF at once": iotest.DataErrReader(bytes.NewReader(content)),
	} {
		got, err := ReadAll(r, desc, MaxManifestSize)
		if err != nil || !bytes.Equal(got, content) {
			t.Fatalf("%s: %v", how, err)
		}
		if cap(got) != len(content) {
			t.Errorf("%s: %d bytes held in a buffer of %d", how, len(got), cap(got))
		}
	}
	for name, data := range map[string][]byte{
		"long":    append(append([]byte{}, content...), '!'),
		"short":   content[:len(content)-1],
		"flipped": append([]byte("["), content[1:]...),
	} {
		if _, err := ReadAll(bytes.NewReader(data), desc, MaxManifestSize); !errors.Is(err, errdef.ErrDigestMismatch) {
			t.Errorf("%s: err = %v, want a digest mismatch", name, err)
		}
	}
}
