package mirror

import (
	"context"
	"errors"
	"fmt"
	"sync"

	"github.com/stellaops/mirror/internal/errgroup"
	"github.com/stellaops/mirror/pkg/bundle"
	"github.com/stellaops/mirror/pkg/errdef"
)

// checkDeltaBase makes sure, before anything is written, that the target's
// bundle repository holds every blob a delta bundle omits, and makes that
// repository the place the placer spreads them from. A missing blob is
// named with what needs it (exit 11): where the base's root is missing too,
// the base was never imported; where it is there, the registry lost the
// blob since (garbage collection, a deletion, an inventory older than
// either), and importing the base again is no answer.
func checkDeltaBase(ctx context.Context, tgt *target, md *metadata, plan *placement, limit int) error {
	m := md.Manifest
	if m.Base == nil || len(m.Base.Omitted) == 0 {
		return nil
	}
	omitted := m.OmittedSet()
	var (
		mu      sync.Mutex
		missing *blobPlace
	)
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(limit)
	for _, b := range plan.blobs {
		if !omitted[b.desc.Digest] {
			continue
		}
		b.repos = moveToFront(b.repos, plan.bundleRepo)
		g.Go(func() error {
			ok, err := tgt.hasBlob(gctx, plan.bundleRepo, b.desc)
			if err == nil && !ok {
				mu.Lock()
				missing = b
				mu.Unlock()
				return errBaseBlobMissing
			}
			return err
		})
	}
	err := g.Wait()
	if missing == nil || errors.Is(err, errdef.ErrInternal) {
		if err == nil {
			plan.held = omitted // each in the bundle repository, its first
		}
		return err
	}
	held, err := tgt.hasManifest(ctx, plan.bundleRepo, m.Base.Root)
	if err != nil {
		return err
	}
	if !held {
		return fmt.Errorf("delta bundle %s needs its base %s (generation %d, root %s) in %s/%s: blob %s is not there; import the base first: %w",
			m.BundleID, m.Base.BundleID, m.Base.Generation, m.Base.Root, tgt.host, plan.bundleRepo, missing.desc.Digest, errdef.ErrMalformed)
	}
	return fmt.Errorf("delta bundle %s omits blob %s of %s, which %s/%s no longer holds though it holds the base %s (generation %d): "+
		"the registry lost it (garbage collection, a deletion) or the inventory was stale; carry a full bundle instead, or make the delta again from a fresh inventory: %w",
		m.BundleID, missing.desc.Digest, neededBy(plan, m, missing), tgt.host, plan.bundleRepo, m.Base.BundleID, m.Base.Generation, errdef.ErrMalformed)
}

// errBaseBlobMissing stops the other existence checks once one blob is
// found missing; checkDeltaBase says which.
var errBaseBlobMissing = errors.New("base blob missing")

// neededBy names what needs a blob of the bundle: the first image
// repository it goes to, else the advisory or file of the bundle it is.
func neededBy(plan *placement, m *bundle.Manifest, b *blobPlace) string {
	for _, r := range b.repos {
		if r != plan.bundleRepo {
			return "image " + r
		}
	}
	for _, f := range m.HumanView() {
		if f.Digest == b.desc.Digest {
			return f.Path
		}
	}
	return "the bundle"
}

func moveToFront(repos []string, first string) []string {
	out := []string{first}
	for _, r := range repos {
		if r != first {
			out = append(out, r)
		}
	}
	return out
}
