package layout

import (
	"archive/tar"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/klauspost/compress/zstd"
	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/stellaops/mirror/pkg/errdef"
)

// TestHeadBytesAreBounded: the head of a streamed archive is read, and
// held, before the signature over manifest.json can be checked. Its
// documents are each bounded (4 MiB), and their total is bounded too
// (MaxHeadBytes): an unsigned index.json could want up to MaxHeadFiles
// (160,000) manifests, and a .tar.zst of 22 KiB made ReadHead hold 159 MiB
// of documents nothing had vouched for (found by review).
func TestHeadBytesAreBounded(t *testing.T) {
	const docs, docSize = 40, 4 << 20
	var manifests [][]byte
	idx := ocispec.Index{MediaType: ocispec.MediaTypeImageIndex}
	idx.SchemaVersion = 2
	for i := range docs {
		pad := bytes.Repeat([]byte{'a'}, docSize-200)
		m := []byte(fmt.Sprintf(`{"schemaVersion":2,"mediaType":"application/vnd.oci.image.index.v1+json","manifests":[],"annotations":{"n":"%04d","x":"%s"}}`, i, pad))
		m = m[:min(len(m), docSize)]
		if !json.Valid(m) {
			t.Fatal("bad doc")
		}
		manifests = append(manifests, m)
		idx.Manifests = append(idx.Manifests, ocispec.Descriptor{MediaType: ocispec.MediaTypeImageIndex, Digest: digest.FromBytes(m), Size: int64(len(m))})
	}
	idxData, _ := json.Marshal(idx)
	var archive bytes.Buffer
	enc, _ := zstd.NewWriter(&archive)
	tw := tar.NewWriter(enc)
	add := func(name string, data []byte) {
		tw.WriteHeader(&tar.Header{Name: name, Size: int64(len(data)), Mode: 0o644, Typeflag: tar.TypeReg})
		tw.Write(data)
	}
	add(OCILayoutFile, ociLayoutContent)
	add(IndexFile, idxData)
	for _, m := range manifests {
		add(BlobName(digest.FromBytes(m)), m)
	}
	tw.Close()
	enc.Close()
	manifests = nil

	tr, err := NewTarReader(bytes.NewReader(archive.Bytes()))
	if err != nil {
		t.Fatal(err)
	}
	defer tr.Close()
	_, _, err = ReadHead(tr)
	if !errors.Is(err, errdef.ErrMalformed) || !strings.Contains(err.Error(), "more than 128 MiB") {
		t.Fatalf("a %d KiB archive wanting %d documents of 4 MiB: err = %v, want refused as malformed", archive.Len()>>10, docs, err)
	}
}
