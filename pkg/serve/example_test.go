package serve_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"

	"github.com/opencontainers/go-digest"
	specs "github.com/opencontainers/image-spec/specs-go"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/stellaops/mirror/pkg/serve"
)

// ExampleNewHandler serves one image from memory and pulls its manifest by
// tag, as any OCI client would.
func ExampleNewHandler() {
	blobs := memStore{}
	add := func(mt string, data []byte) ocispec.Descriptor {
		d := ocispec.Descriptor{MediaType: mt, Digest: digest.FromBytes(data), Size: int64(len(data))}
		blobs[d.Digest] = data
		return d
	}
	config := add(ocispec.MediaTypeImageConfig, []byte(`{"architecture":"amd64","os":"linux"}`))
	layer := add(ocispec.MediaTypeImageLayer, []byte("layer"))
	manifest, _ := json.Marshal(ocispec.Manifest{
		Versioned: specs.Versioned{SchemaVersion: 2}, MediaType: ocispec.MediaTypeImageManifest,
		Config: config, Layers: []ocispec.Descriptor{layer},
	})
	desc := ocispec.Descriptor{MediaType: ocispec.MediaTypeImageManifest, Digest: digest.FromBytes(manifest), Size: int64(len(manifest))}

	content := serve.NewContent(blobs)
	if err := content.AddManifest(desc, manifest); err != nil {
		panic(err)
	}
	if err := content.Include("example/app", desc.Digest); err != nil {
		panic(err)
	}
	if err := content.Tag("example/app", "1.0", desc.Digest); err != nil {
		panic(err)
	}
	srv := httptest.NewServer(serve.NewHandler(content, serve.Options{}))
	defer srv.Close()

	resp, err := http.Get(srv.URL + "/v2/example/app/manifests/1.0")
	if err != nil {
		panic(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	fmt.Println(resp.Status, resp.Header.Get("Content-Type"))
	fmt.Println(resp.Header.Get("Docker-Content-Digest") == desc.Digest.String(), bytes.Equal(body, manifest))

	put, _ := http.NewRequestWithContext(context.Background(), http.MethodPut, srv.URL+"/v2/example/app/manifests/2.0", nil)
	resp, err = http.DefaultClient.Do(put)
	if err != nil {
		panic(err)
	}
	resp.Body.Close()
	fmt.Println(resp.Status)
	// Output:
	// 200 OK application/vnd.oci.image.manifest.v1+json
	// true true
	// 405 Method Not Allowed
}
