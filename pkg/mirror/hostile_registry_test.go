package mirror_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/opencontainers/go-digest"
	specs "github.com/opencontainers/image-spec/specs-go"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	oremote "oras.land/oras-go/v2/registry/remote"

	"github.com/stellaops/mirror/internal/testutil"
)

// rawRepo pushes hand-made content into a repository of a test registry.
type rawRepo struct {
	t    *testing.T
	host string
	name string
}

func (r rawRepo) repository() *oremote.Repository {
	r.t.Helper()
	repo, err := testutil.Client(r.t).Repository(r.host + "/" + r.name)
	if err != nil {
		r.t.Fatal(err)
	}
	return repo
}

func (r rawRepo) push(mediaType string, data []byte) ocispec.Descriptor {
	r.t.Helper()
	d := ocispec.Descriptor{MediaType: mediaType, Digest: digest.FromBytes(data), Size: int64(len(data))}
	if err := r.repository().Push(context.Background(), d, bytes.NewReader(data)); err != nil {
		r.t.Fatal(err)
	}
	return d
}

// tag tags d as tag in the repository.
func (r rawRepo) tag(d ocispec.Descriptor, tag string) {
	r.t.Helper()
	if err := r.repository().Tag(context.Background(), d, tag); err != nil {
		r.t.Fatal(err)
	}
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

// twoPlatforms pushes a linux/amd64 and a linux/arm64 image and the index
// of the two, returning the index and its two manifests.
func (r rawRepo) twoPlatforms() (idx, amd, arm ocispec.Descriptor) {
	r.t.Helper()
	amd, arm = r.image("amd64", "", nil), r.image("arm64", "", nil)
	return r.index(withPlatform(amd, "linux", "amd64"), withPlatform(arm, "linux", "arm64")), amd, arm
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

// referrersOverride serves, for the subjects it names, the given referrers
// list instead of the registry's own answer.
type referrersOverride struct {
	mu   sync.Mutex
	list map[digest.Digest][]ocispec.Descriptor
}

func (o *referrersOverride) set(subject digest.Digest, list []ocispec.Descriptor) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.list == nil {
		o.list = map[digest.Digest][]ocispec.Descriptor{}
	}
	o.list[subject] = list
}

func (o *referrersOverride) wrap(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		i := strings.LastIndex(r.URL.Path, "/referrers/")
		if r.Method != http.MethodGet || i < 0 {
			h.ServeHTTP(w, r)
			return
		}
		o.mu.Lock()
		list, ok := o.list[digest.Digest(r.URL.Path[i+len("/referrers/"):])]
		o.mu.Unlock()
		if !ok {
			h.ServeHTTP(w, r)
			return
		}
		data, _ := json.Marshal(ocispec.Index{Versioned: specs.Versioned{SchemaVersion: 2}, MediaType: ocispec.MediaTypeImageIndex, Manifests: list})
		w.Header().Set("Content-Type", ocispec.MediaTypeImageIndex)
		w.Write(data)
	})
}

// fetchManifest reads and decodes an image manifest from a test registry.
func fetchManifest(t *testing.T, host, name string, d ocispec.Descriptor) ocispec.Manifest {
	t.Helper()
	var m ocispec.Manifest
	if err := json.Unmarshal(manifestBytes(t, host, name, d), &m); err != nil {
		t.Fatal(err)
	}
	return m
}

// manifestBytes reads the manifest d from host/name, a test registry.
func manifestBytes(t *testing.T, host, name string, d ocispec.Descriptor) []byte {
	t.Helper()
	repo, err := testutil.Client(t).Repository(host + "/" + name)
	if err != nil {
		t.Fatal(err)
	}
	rc, err := repo.Fetch(context.Background(), d)
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	data, err := io.ReadAll(rc)
	if err != nil {
		t.Fatal(err)
	}
	return data
}
