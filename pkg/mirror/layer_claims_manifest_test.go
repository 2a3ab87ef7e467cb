package mirror_test

import (
	"context"
	"errors"
	"path/filepath"
	"strings"
	"testing"

	"github.com/opencontainers/go-digest"
	specs "github.com/opencontainers/image-spec/specs-go"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/stellaops/mirror/internal/testutil"
	"github.com/stellaops/mirror/pkg/errdef"
	"github.com/stellaops/mirror/pkg/mirror"
)

// TestLayerClaimsManifestMediaType: an image manifest whose layer (or
// config) descriptor claims an index or manifest media type, for a blob
// the repository holds. The layer was asked for at /manifests/, where the
// registry has no such manifest, and create failed "not found" (exit 1),
// as if the image were missing. A layer is a blob: such a manifest is
// malformed (exit 11), and the error names the layer's digest.
func TestLayerClaimsManifestMediaType(t *testing.T) {
	for _, mt := range []string{ocispec.MediaTypeImageIndex, ocispec.MediaTypeImageManifest} {
		for _, where := range []string{"layer", "config"} {
			t.Run(where+" "+mt, func(t *testing.T) {
				src := testutil.Registry(t)
				r := rawRepo{t, src, "stellaops/odd"}
				cfg := r.push(ocispec.MediaTypeImageConfig, []byte(`{"architecture":"amd64","os":"linux","rootfs":{"type":"layers","diff_ids":[]}}`))
				layer := r.push(ocispec.MediaTypeImageLayer, []byte("layer of odd"))
				claimed := &layer
				if where == "config" {
					claimed = &cfg
				}
				claimed.MediaType = mt
				img := r.pushJSON(ocispec.MediaTypeImageManifest, ocispec.Manifest{
					Versioned: specs.Versioned{SchemaVersion: 2}, MediaType: ocispec.MediaTypeImageManifest,
					Config: cfg, Layers: []ocispec.Descriptor{layer},
				})
				dir := filepath.Join(t.TempDir(), "bundle")
				opts := createOpts(t, releaseOf(t, src, map[string]digest.Digest{r.name: img.Digest}), "", dir)
				opts.Version = "2025.10.0"
				_, err := mirror.Create(context.Background(), opts)
				if !errors.Is(err, errdef.ErrMalformed) || !strings.Contains(err.Error(), claimed.Digest.String()) {
					t.Errorf("create of an image whose %s claims %s: %v; want malformed, naming %s", where, mt, err, claimed.Digest)
				}
			})
		}
	}
}
