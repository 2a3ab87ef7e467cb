package mirror

import (
	"context"

	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/stellaops/mirror/pkg/bundle"
)

// checkCosignTags refuses a bundle whose manifest.json gives an image a
// cosign tag for a manifest the bundle does not carry for that image
// (bundle.Image.CheckCosignTags): import, serve and sync would write that
// tag beside the image. Only an image with a tag whose subject
// manifest.json does not name (a platform manifest's signature) has its
// graph read, and g reads each document once for every image.
func (md *metadata) checkCosignTags(ctx context.Context) error {
	g := newGraphReader(md.Doc, false)
	for i := range md.Manifest.Images {
		img := &md.Manifest.Images[i]
		var carried map[digest.Digest]bool
		var walkErr error
		below := func(d digest.Digest) bool {
			if carried == nil && walkErr == nil {
				carried, walkErr = imageManifests(ctx, g, img)
			}
			return carried[d]
		}
		err := img.CheckCosignTags(below)
		if walkErr != nil {
			// A manifest manifest.json names through the image, missing
			// from the bundle: content lost, as the content walk says.
			return missingIsMismatch(walkErr)
		}
		if err != nil {
			return err
		}
	}
	return nil
}

// imageManifests returns every manifest and index below an image's root
// and its referrers, those included.
func imageManifests(ctx context.Context, g *graphReader, img *bundle.Image) (map[digest.Digest]bool, error) {
	carried := map[digest.Digest]bool{}
	add := func(d ocispec.Descriptor, _ []byte) { carried[d.Digest] = true }
	roots := []ocispec.Descriptor{imageDesc(*img)}
	for _, r := range img.Referrers {
		roots = append(roots, ocispec.Descriptor{MediaType: r.MediaType, Digest: r.Digest, Size: r.Size})
	}
	for _, d := range roots {
		if err := visitGraph(ctx, d, g, func(ocispec.Descriptor) {}, add); err != nil {
			return nil, err
		}
	}
	return carried, nil
}
