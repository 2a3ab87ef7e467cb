package bundle

import (
	"fmt"

	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/stellaops/mirror/pkg/errdef"
)

// NestTooDeep refuses d, a manifest or index met levels below top, the
// document a walk began at (an image as pinned, a referrer), when that is
// deeper than MaxDepth below a bundle's root index, which lists top one
// level up. create's walk of an image and its search of an index for one
// platform's manifest both refuse in these words, which name the document
// too deep and where it is: a bundle holding it would be refused by every
// reader (errdef.ErrMalformed).
func NestTooDeep(d ocispec.Descriptor, levels int, top digest.Digest) error {
	kind := "manifest"
	if IsIndexMediaType(d.MediaType) {
		kind = "index"
	}
	return fmt.Errorf("%s %s, %d levels below %s (%d below the bundle's root index): indexes nest deeper than %d: %w",
		kind, d.Digest, levels, top, levels+1, MaxDepth, errdef.ErrMalformed)
}
