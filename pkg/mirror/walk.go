package mirror

import (
	"context"
	"fmt"

	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/stellaops/mirror/pkg/bundle"
	"github.com/stellaops/mirror/pkg/errdef"
)

// visitGraph visits desc and everything below it once each, children
// before their parent: blob for every non-manifest blob, manifest (with its
// verified bytes, from doc) for every manifest and index. Indexes nesting
// deeper than bundle.MaxDepth are refused.
func visitGraph(ctx context.Context, desc ocispec.Descriptor, doc func(context.Context, ocispec.Descriptor) ([]byte, error),
	blob func(ocispec.Descriptor), manifest func(ocispec.Descriptor, []byte)) error {
	seen := map[digest.Digest]bool{}
	var walk func(d ocispec.Descriptor, depth int) error
	walk = func(d ocispec.Descriptor, depth int) error {
		if seen[d.Digest] {
			return nil
		}
		seen[d.Digest] = true
		if !bundle.IsManifestMediaType(d.MediaType) {
			blob(d)
			return nil
		}
		if depth > bundle.MaxDepth {
			return fmt.Errorf("%s: indexes nest deeper than %d: %w", d.Digest, bundle.MaxDepth, errdef.ErrMalformed)
		}
		data, err := doc(ctx, d)
		if err != nil {
			return err
		}
		children, err := bundle.Children(d, data)
		if err != nil {
			return err
		}
		for _, c := range children {
			if err := walk(c, depth+1); err != nil {
				return err
			}
		}
		if manifest != nil {
			manifest(d, data)
		}
		return nil
	}
	return walk(desc, 0)
}
