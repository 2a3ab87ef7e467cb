package mirror_test

import (
	"context"
	"os"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	ggcrlayout "github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/validate"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	"oras.land/oras-go/v2/content/oci"

	"github.com/stellaops/mirror/pkg/bundle"
)

// assertValidLayout checks a bundle directory the way other OCI tools read
// it: oras-go opens it as an OCI layout and resolves the root by the
// release version and every image by "<repository>:<version>";
// go-containerregistry validates every image (manifests, configs, layer
// digests and sizes).
func assertValidLayout(t *testing.T, dir string, m *bundle.Manifest) {
	t.Helper()
	ctx := context.Background()
	store, err := oci.NewFromFS(ctx, os.DirFS(dir))
	if err != nil {
		t.Fatalf("oras-go cannot open the layout: %v", err)
	}
	root, err := store.Resolve(ctx, m.Release.Version)
	if err != nil || root.ArtifactType != bundle.ArtifactTypeBundle {
		t.Fatalf("root by version: %v %+v", err, root)
	}
	for _, img := range m.Images {
		d, err := store.Resolve(ctx, img.Repository+":"+m.Release.Version)
		if err != nil || d.Digest != img.Digest {
			t.Errorf("resolve %s:%s: %v %s", img.Repository, m.Release.Version, err, d.Digest)
		}
	}
	path, err := ggcrlayout.FromPath(dir)
	if err != nil {
		t.Fatal(err)
	}
	idx, err := path.ImageIndex()
	if err != nil {
		t.Fatal(err)
	}
	im, err := idx.IndexManifest()
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range im.Manifests {
		if d.ArtifactType == bundle.ArtifactTypeBundle {
			continue
		}
		h, _ := v1.NewHash(d.Digest.String())
		switch string(d.MediaType) {
		case ocispec.MediaTypeImageIndex:
			ii, err := idx.ImageIndex(h)
			if err != nil {
				t.Fatal(err)
			}
			if err := validate.Index(ii); err != nil {
				t.Errorf("index %s: %v", d.Digest, err)
			}
		default:
			i, err := idx.Image(h)
			if err != nil {
				t.Fatal(err)
			}
			if err := validate.Image(i); err != nil {
				t.Errorf("image %s: %v", d.Digest, err)
			}
		}
	}
}
