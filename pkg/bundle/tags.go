package bundle

import (
	"fmt"

	"github.com/opencontainers/go-digest"
)

// checkTagsUnique refuses two images that would take one tag of one
// repository for different manifests: an image's tags, or a cosign tag of
// its referrers, in its repository. Import writes every tag at once, and
// one of the two would name the other's content, whichever the registry
// took last. The same tag for the same manifest (one signature of an
// image listed twice) is no conflict.
func (m *Manifest) checkTagsUnique() error {
	type named struct {
		digest digest.Digest
		image  int
	}
	seen := map[string]named{}
	take := func(i int, repo, tag string, dg digest.Digest) error {
		ref := repo + ":" + tag
		if prev, ok := seen[ref]; ok && prev.digest != dg {
			return fmt.Errorf("images[%d] and images[%d] both tag %s, for %s and %s", prev.image, i, ref, prev.digest, dg)
		}
		seen[ref] = named{dg, i}
		return nil
	}
	for i, img := range m.Images {
		for _, t := range img.Tags {
			if err := take(i, img.Repository, t, img.Digest); err != nil {
				return err
			}
		}
		for _, r := range img.Referrers {
			if r.Tag == "" {
				continue
			}
			if err := take(i, img.Repository, r.Tag, r.Digest); err != nil {
				return err
			}
		}
	}
	return nil
}

// TagConflict names the image of m whose tags in its repository (repo,
// the name it is placed under) include tag for another manifest than dg,
// or "" if none does: a bundle's own tag placed in an image's repository
// would replace the image's.
func (m *Manifest) TagConflict(repoOf func(Image) string, repo, tag string, dg digest.Digest) string {
	for _, img := range m.Images {
		if repoOf(img) != repo {
			continue
		}
		for _, t := range img.Tags {
			if t == tag && img.Digest != dg {
				return fmt.Sprintf("%s@%s", img.Repository, img.Digest)
			}
		}
		for _, r := range img.Referrers {
			if r.Tag == tag && r.Digest != dg {
				return fmt.Sprintf("%s@%s", img.Repository, img.Digest)
			}
		}
	}
	return ""
}
