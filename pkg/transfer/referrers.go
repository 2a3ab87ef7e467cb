package transfer

import (
	"context"
	"encoding/json"
	"fmt"
	"sort"

	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	"oras.land/oras-go/v2/content"
	"oras.land/oras-go/v2/registry"

	"github.com/stellaops/mirror/pkg/bundle"
	"github.com/stellaops/mirror/pkg/errdef"
)

// ReferrerSource is a store that can list the referrers of a manifest (a
// remote repository does, through the referrers API or the fallback tag).
type ReferrerSource interface {
	content.Fetcher
	registry.ReferrerLister
}

// MaxReferrers bounds how many referrers one subject may bring along; a
// registry answer is hostile input too.
const MaxReferrers = 1000

// Referrer is a referrer manifest with the subject it refers to.
type Referrer struct {
	Descriptor ocispec.Descriptor
	Subject    digest.Digest
	// Tag is set for a manifest attached by cosign's tag scheme: the tag
	// naming it, which its subject's digest makes (no subject field).
	Tag string
}

// WalkReferrers finds the referrers of subject in src, and theirs in turn (up
// to bundle.MaxDepth levels), adds each with everything below it to the
// graph, and returns them sorted by digest within each level. A referrer
// that is no image manifest or index is added to g.Skipped instead.
func (g *Graph) WalkReferrers(ctx context.Context, src ReferrerSource, subject ocispec.Descriptor) ([]Referrer, error) {
	var out []Referrer
	level := []ocispec.Descriptor{subject}
	seen := map[digest.Digest]bool{subject.Digest: true}
	for depth := 0; len(level) > 0; depth++ {
		if depth > bundle.MaxDepth {
			return nil, fmt.Errorf("%s: referrers nest deeper than %d: %w", subject.Digest, bundle.MaxDepth, errdef.ErrMalformed)
		}
		var next []ocispec.Descriptor
		for _, s := range level {
			var found []ocispec.Descriptor
			err := src.Referrers(ctx, plain(s), "", func(page []ocispec.Descriptor) error {
				found = append(found, page...)
				if len(found) > MaxReferrers {
					return fmt.Errorf("%s: more than %d referrers: %w", s.Digest, MaxReferrers, errdef.ErrMalformed)
				}
				return nil
			})
			if err != nil {
				return nil, fmt.Errorf("referrers of %s: %w", s.Digest, err)
			}
			sort.Slice(found, func(i, j int) bool { return found[i].Digest < found[j].Digest })
			for _, r := range found {
				if seen[r.Digest] {
					continue
				}
				if !bundle.IsManifestMediaType(r.MediaType) {
					seen[r.Digest] = true
					g.Skipped = append(g.Skipped, Referrer{Descriptor: plain(r), Subject: s.Digest})
					continue
				}
				seen[r.Digest] = true
				if err := g.Walk(ctx, src, r); err != nil {
					return nil, fmt.Errorf("referrer %s of %s: %w", r.Digest, s.Digest, err)
				}
				// Walk fetches nothing for a digest already in the graph:
				// one held as a blob (a layer or config listed as a
				// referrer) is no manifest, and has no subject to check.
				i, ok := g.nodes[r.Digest]
				if !ok {
					return nil, fmt.Errorf("referrer %s listed for %s is a blob of the graph, not a manifest: %w", r.Digest, s.Digest, errdef.ErrMalformed)
				}
				n := &g.Nodes[i]
				if got := bundle.SubjectOf(n.Bytes); got != s.Digest {
					return nil, fmt.Errorf("referrer %s listed for %s names subject %q: %w", r.Digest, s.Digest, got, errdef.ErrMalformed)
				}
				// What the referrer is comes from the verified manifest, as
				// the referrers API derives it, not from the listing's claim.
				r.ArtifactType = artifactTypeOf(n.Bytes)
				n.Descriptor.ArtifactType = r.ArtifactType
				out = append(out, Referrer{Descriptor: plain(r), Subject: s.Digest})
				next = append(next, r)
			}
		}
		level = next
	}
	return out, nil
}

// artifactTypeOf is a manifest's artifactType as the referrers API reports
// it: its artifactType field, else (an image manifest) its config's media
// type.
func artifactTypeOf(data []byte) string {
	var doc struct {
		ArtifactType string `json:"artifactType"`
		Config       *struct {
			MediaType string `json:"mediaType"`
		} `json:"config"`
	}
	if json.Unmarshal(data, &doc) != nil {
		return ""
	}
	if doc.ArtifactType == "" && doc.Config != nil {
		return doc.Config.MediaType
	}
	return doc.ArtifactType
}
