package mirror

import (
	"context"
	"fmt"
	"sync"

	"github.com/opencontainers/go-digest"
	"golang.org/x/sync/errgroup"

	"github.com/stellaops/mirror/pkg/errdef"
)

// checkDeltaBase makes sure, before anything is written, that the target's
// bundle repository holds every blob a delta bundle omits, and makes that
// repository the place the placer spreads them from. A missing base is
// named (exit 11).
func checkDeltaBase(ctx context.Context, tgt *target, md *metadata, plan *placement, limit int) error {
	m := md.Manifest
	if m.Base == nil || len(m.Base.Omitted) == 0 {
		return nil
	}
	omitted := m.OmittedSet()
	var (
		mu      sync.Mutex
		missing digest.Digest
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
				missing = b.desc.Digest
				mu.Unlock()
				return fmt.Errorf("missing")
			}
			return err
		})
	}
	err := g.Wait()
	if missing != "" {
		return fmt.Errorf("delta bundle %s needs its base %s (generation %d, root %s) in %s/%s: blob %s is not there; import the base first: %w",
			m.BundleID, m.Base.BundleID, m.Base.Generation, m.Base.Root, tgt.host, plan.bundleRepo, missing, errdef.ErrMalformed)
	}
	return err
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
