package mirror

import (
	"context"
	"fmt"
	"slices"

	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	"golang.org/x/sync/semaphore"
	oremote "oras.land/oras-go/v2/registry/remote"

	"github.com/stellaops/mirror/internal/errgroup"
	"github.com/stellaops/mirror/pkg/bundle"
	"github.com/stellaops/mirror/pkg/remote"
	"github.com/stellaops/mirror/pkg/transfer"
)

// cosignLookups bounds the cosign tag lookups of one create in flight,
// across every image it resolves: each image has three lookups for each
// manifest it carries, and --concurrency images are resolved at once, so
// a bound per image would let a rate-limited source registry see their
// product. Safe for concurrent use.
type cosignLookups struct {
	limit int
	sem   *semaphore.Weighted
}

// lookupWaitHook, if set (by a test, before the create starts), is told
// when a lookup starts to wait for one of the create's lookups to end (+1)
// and when it stops waiting (-1): a test can so tell a create held at its
// bound from one that has no lookup left to send, with no clock.
var lookupWaitHook func(delta int)

// newCosignLookups allows limit (at least one) lookups in flight.
func newCosignLookups(limit int) *cosignLookups {
	limit = max(limit, 1)
	return &cosignLookups{limit: limit, sem: semaphore.NewWeighted(int64(limit))}
}

// find finds, for each of the digests, the manifests that repo holds under
// cosign's tag scheme (sha256-<hex>.sig, .att, .sbom: the scheme cosign
// signs with by default), in the digests' order. Only a tag that is not
// there counts as none: any other answer fails, so that what a bundle
// carries never depends on whether a registry answered.
func (l *cosignLookups) find(ctx context.Context, repo *oremote.Repository, dgs []digest.Digest) ([]transfer.Referrer, error) {
	found := make([]*transfer.Referrer, len(dgs)*len(bundle.CosignTagSuffixes))
	g, ctx := errgroup.WithContext(ctx)
	// No more goroutines than could look up at once: the rest would only
	// wait on the semaphore, one per tag of a large image.
	g.SetLimit(l.limit)
	for i, dg := range dgs {
		for j, suffix := range bundle.CosignTagSuffixes {
			g.Go(func() error {
				tag := bundle.CosignTag(dg, suffix)
				r, err := l.resolve(ctx, repo, tag)
				if err != nil || r == nil {
					return err
				}
				r.Subject = dg
				found[i*len(bundle.CosignTagSuffixes)+j] = r
				return nil
			})
		}
	}
	if err := g.Wait(); err != nil {
		return nil, err
	}
	var out []transfer.Referrer
	for _, r := range found {
		if r != nil {
			out = append(out, *r)
		}
	}
	return out, nil
}

// resolve looks up one tag, holding one of the create's lookups while it
// does: nil if the tag is not there.
func (l *cosignLookups) resolve(ctx context.Context, repo *oremote.Repository, tag string) (*transfer.Referrer, error) {
	if !l.sem.TryAcquire(1) {
		hook := lookupWaitHook
		if hook != nil {
			hook(+1)
		}
		err := l.sem.Acquire(ctx, 1)
		if hook != nil {
			hook(-1)
		}
		if err != nil {
			return nil, err
		}
	}
	defer l.sem.Release(1)
	desc, err := repo.Resolve(ctx, tag)
	if isNotFound(err) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("cosign tag %s: %w", tag, remote.Classify(err))
	}
	return &transfer.Referrer{Descriptor: ocispec.Descriptor{MediaType: desc.MediaType, Digest: desc.Digest, Size: desc.Size}, Tag: tag}, nil
}

// carryCosignTags looks up cosign's tags of every manifest the image
// carries, and adds what they name: its own manifests (own), its
// referrers, and in turn what those tags name (an SBOM attached by
// subject, or under a .sbom tag, then signed by its own digest, has its
// signature under the SBOM's tag). It goes one level at a time until a
// level finds nothing new; each manifest is looked up once, so a tag that
// names a manifest already carried (a cycle) ends there, and the
// manifests fetched stay within the create's docBudget. A chain of tags
// goes bundle.MaxDepth levels deep, as one of referrers does: what the
// tags past it name is passed over with a warning, not fetched.
func (si *sourceImage) carryCosignTags(ctx context.Context, lookups *cosignLookups, own []digest.Digest) error {
	looked := map[digest.Digest]bool{}
	for depth := 0; ; depth++ {
		var level []digest.Digest
		for _, n := range si.graph.Nodes {
			if dg := n.Descriptor.Digest; !looked[dg] {
				looked[dg] = true
				level = append(level, dg)
			}
		}
		if len(level) == 0 {
			return nil
		}
		tagged, err := lookups.find(ctx, si.repo, level)
		if err != nil {
			return err
		}
		if depth >= bundle.MaxDepth {
			si.passOverTooDeep(tagged, depth+1)
			return nil
		}
		if err := si.addTagged(ctx, tagged, own); err != nil {
			return err
		}
	}
}

// passOverTooDeep passes over the manifests found under cosign's tags
// levels below the image, past the bound a walk follows, unread: each
// the graph does not hold is added to its Skipped (a *transfer.ChainError).
func (si *sourceImage) passOverTooDeep(tagged []transfer.Referrer, levels int) {
	for _, r := range tagged {
		if si.graph.Has(r.Descriptor.Digest) {
			continue
		}
		r.Refused = &transfer.ChainError{Referrer: r.Descriptor.Digest, Subject: r.Subject, Levels: levels}
		si.graph.Skipped = append(si.graph.Skipped, r)
	}
}

// addTagged adds the manifests found under cosign's tags, with everything
// below them, to the image's graph and referrers. One that is no manifest
// is skipped (and said so), as a referrer would be. One the graph holds
// already is not fetched again: a referrer's manifest under a cosign tag
// too is recorded with its tag, so that import writes the tag; a tag
// naming one of the image's own manifests (own) or a blob names no
// signature, and is left out.
func (si *sourceImage) addTagged(ctx context.Context, tagged []transfer.Referrer, own []digest.Digest) error {
	for _, r := range tagged {
		if !bundle.IsManifestMediaType(r.Descriptor.MediaType) {
			si.graph.Skipped = append(si.graph.Skipped, r)
			continue
		}
		if si.graph.Has(r.Descriptor.Digest) {
			if _, manifest := si.graph.Node(r.Descriptor.Digest); manifest && !slices.Contains(own, r.Descriptor.Digest) {
				si.referrers = append(si.referrers, r)
			}
			continue
		}
		skipped, err := si.graph.WalkReferrer(ctx, si.repo, r)
		if err != nil {
			return fmt.Errorf("cosign tag %s: %w", r.Tag, remote.Classify(err))
		}
		if !skipped {
			si.referrers = append(si.referrers, r)
		}
	}
	return nil
}
