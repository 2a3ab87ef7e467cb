package mirror_test

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"

	"github.com/opencontainers/go-digest"
	specs "github.com/opencontainers/image-spec/specs-go"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/stellaops/mirror/internal/testutil"
)

// rawRepo pushes hand-made content into a repository of a test registry.
type rawRepo struct {
	t    *testing.T
	host string
	name string
}

func (r rawRepo) push(mediaType string, data []byte) ocispec.Descriptor {
	r.t.Helper()
	repo, err := testutil.Client(r.t).Repository(r.host + "/" + r.name)
	if err != nil {
		r.t.Fatal(err)
	}
	d := ocispec.Descriptor{MediaType: mediaType, Digest: digest.FromBytes(data), Size: int64(len(data))}
	if err := repo.Push(context.Background(), d, bytes.NewReader(data)); err != nil {
		r.t.Fatal(err)
	}
	return d
}

func (r rawRepo) pushJSON(mediaType string, v any) ocispec.Descriptor {
	r.t.Helper()
	data, err := json.Marshal(v)
	if err != nil {
		r.t.Fatal(err)
	}
	return r.push(mediaType, data)
}

// image pushes a one-layer linux/amd64 image (config, layer, manifest),
// with subject if not nil and artifactType if not empty.
func (r rawRepo) image(seed string, artifactType string, subject *ocispec.Descriptor) ocispec.Descriptor {
	r.t.Helper()
	cfg := r.push(ocispec.MediaTypeImageConfig, []byte(`{"architecture":"amd64","os":"linux","rootfs":{"type":"layers","diff_ids":[]},"seed":"`+seed+`"}`))
	layer := r.push(ocispec.MediaTypeImageLayer, []byte("layer "+seed))
	return r.pushJSON(ocispec.MediaTypeImageManifest, ocispec.Manifest{
		Versioned: specs.Versioned{SchemaVersion: 2}, MediaType: ocispec.MediaTypeImageManifest,
		ArtifactType: artifactType, Config: cfg, Layers: []ocispec.Descriptor{layer}, Subject: subject,
	})
}

func (r rawRepo) index(children ...ocispec.Descriptor) ocispec.Descriptor {
	r.t.Helper()
	return r.pushJSON(ocispec.MediaTypeImageIndex, ocispec.Index{
		Versioned: specs.Versioned{SchemaVersion: 2}, MediaType: ocispec.MediaTypeImageIndex, Manifests: children,
	})
}

// releaseOf writes a plain-list release file naming host/name@d.
func releaseOf(t *testing.T, host string, refs map[string]digest.Digest) string {
	t.Helper()
	var b bytes.Buffer
	for name, d := range refs {
		b.WriteString(host + "/" + name + "@" + d.String() + "\n")
	}
	path := filepath.Join(t.TempDir(), "release.txt")
	if err := os.WriteFile(path, b.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}
