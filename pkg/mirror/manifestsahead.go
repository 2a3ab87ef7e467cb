package mirror

import (
	"context"

	"github.com/stellaops/mirror/pkg/errdef"
)

// manifestsAhead is whether the target holds each manifest of a
// placement, asked while its blobs go (askManifests).
type manifestsAhead struct {
	done    chan struct{}
	present map[repoDigest]bool
	err     error
	cancel  context.CancelFunc
}

// askManifests asks whether the target holds each manifest of the plan
// while the blobs are sent: the answers are in hand when the manifests'
// turn comes, where asking then cost a round of HEADs (more than one past
// Concurrency manifests: a round trip for every Concurrency of them) on
// the chain of every import, push and sync. Only reads go ahead: nothing
// is pushed before every blob is placed. An error is the answer, told when
// the manifests' turn comes (wait), as it was when they were asked then,
// and told to failed as it comes: the placement fails on it, and the
// blobs' uploads are not to go on beside it (a registry gone down holds
// those through the idle timeout). stop ends the asking.
func (pl *placer) askManifests(ctx context.Context, failed context.CancelCauseFunc) *manifestsAhead {
	ctx, cancel := context.WithCancel(ctx)
	a := &manifestsAhead{done: make(chan struct{}), cancel: cancel}
	go func() {
		defer close(a.done)
		defer func() {
			if a.err != nil && ctx.Err() == nil {
				failed(a.err)
			}
		}()
		defer errdef.Recover(&a.err) // a bug: the answer, told by wait
		a.present, a.err = pl.tgt.presentManifests(ctx, pl.plan.manifestPhases())
	}()
	return a
}

// wait returns the answers once they are in, or ctx's error first.
func (a *manifestsAhead) wait(ctx context.Context) (map[repoDigest]bool, error) {
	select {
	case <-a.done:
		return a.present, a.err
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// stop ends the asking and waits for the requests in flight.
func (a *manifestsAhead) stop() {
	a.cancel()
	<-a.done
}
