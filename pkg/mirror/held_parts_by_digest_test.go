package mirror_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"

	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	"oras.land/oras-go/v2/content"
	"oras.land/oras-go/v2/registry"

	"github.com/stellaops/mirror/pkg/bundle"
	"github.com/stellaops/mirror/pkg/errdef"
	"github.com/stellaops/mirror/pkg/mirror"
)

// TestHeldRootPartsAnsweredByDigest: as TestHeldRootAnsweredByDigest, for
// the parts of the newest held root its verification reads by digest: its
// metadata manifest, manifest.json, its signature manifest and the
// envelope, each answered with bytes of the right size that hash to
// another digest (a byte changed). A registry holds no bytes under a
// digest they do not hash to, whoever pushed them: the answer is the
// registry's fault (or a proxy's), not the root's. Passed over as not
// verified, the root let C (101) in over B (102): a rollback. The check
// now fails closed, naming the part (exit 11), and C is not placed.
func TestHeldRootPartsAnsweredByDigest(t *testing.T) {
	for _, part := range []string{"metadata manifest", "manifest.json", "signature manifest", "envelope"} {
		t.Run(part, func(t *testing.T) {
			ctx := context.Background()
			host, target := registryAltering(t, func(real []byte) []byte {
				body := bytes.Clone(real)
				body[len(body)/2] ^= 1
				return body
			})
			a, c, r, root := heldNewerThanC(t, host)
			manifest := func(d ocispec.Descriptor) ocispec.Manifest {
				t.Helper()
				data, err := content.FetchAll(ctx, r, d)
				if err != nil {
					t.Fatal(err)
				}
				var m ocispec.Manifest
				if err := json.Unmarshal(data, &m); err != nil {
					t.Fatal(err)
				}
				return m
			}
			var idx ocispec.Index
			data, err := content.FetchAll(ctx, r, root)
			if err != nil {
				t.Fatal(err)
			}
			if err := json.Unmarshal(data, &idx); err != nil {
				t.Fatal(err)
			}
			meta, err := bundle.MetadataDescriptor(&idx)
			if err != nil {
				t.Fatal(err)
			}
			all, err := registry.Referrers(ctx, r, root, "")
			if err != nil {
				t.Fatal(err)
			}
			var refs []ocispec.Descriptor
			for _, d := range all {
				if manifest(d).ArtifactType == bundle.ArtifactTypeDSSE {
					refs = append(refs, d)
				}
			}
			if len(refs) != 1 {
				t.Fatalf("signature referrers of B's root: %v", all)
			}
			var path string
			switch part {
			case "metadata manifest":
				path = "/manifests/" + meta.Digest.String()
			case "manifest.json":
				path = "/blobs/" + manifest(meta).Layers[0].Digest.String()
			case "signature manifest":
				path = "/manifests/" + refs[0].Digest.String()
			case "envelope":
				path = "/blobs/" + manifest(refs[0]).Layers[0].Digest.String()
			}
			target.Store(path)
			_, err = mirror.Import(ctx, importOpts(t, c, host, a.pub))
			if !errors.Is(err, errdef.ErrMalformed) || !strings.Contains(err.Error(), root.Digest.String()) {
				t.Errorf("import of C (101), B's %s (102) answered by digest with a byte changed: %v; want malformed, naming B's root %s", part, err, root.Digest)
			}
			if d, err := r.Resolve(ctx, "2025.11.0"); err == nil {
				t.Fatalf("C was placed over B: tag 2025.11.0 names %s", d.Digest)
			}
		})
	}
}
