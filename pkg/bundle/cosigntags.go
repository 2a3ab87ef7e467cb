package bundle

import (
	"fmt"

	"github.com/opencontainers/go-digest"

	"github.com/stellaops/mirror/pkg/errdef"
)

// CheckCosignTags refuses a cosign tag of img whose subject is not a
// manifest the bundle carries for img: import writes the tag beside the
// image, where it would name a signature of content the far side does not
// have. The carried manifests are the image's root and its referrers,
// which manifest.json names, and the manifests below either (an index's
// platform manifests), which only the graph tells: below reports those,
// and is asked only of a subject manifest.json does not name, so a caller
// can read the graph lazily. manifest.json is signed, so only a faulty
// producer writes such a tag; the error wraps errdef.ErrMalformed and
// names the tag and the image.
func (img *Image) CheckCosignTags(below func(digest.Digest) bool) error {
	named := map[digest.Digest]bool{img.Digest: true}
	for _, r := range img.Referrers {
		named[r.Digest] = true
	}
	for _, r := range img.Referrers {
		if r.Tag == "" || named[r.Subject] || below(r.Subject) {
			continue
		}
		return fmt.Errorf("manifest.json: image %s@%s: cosign tag %s names a signature of %s, which the bundle does not carry for the image (its manifests and referrers): %w",
			img.Repository, img.Digest, r.Tag, r.Subject, errdef.ErrMalformed)
	}
	return nil
}
