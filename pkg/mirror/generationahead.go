package mirror

import (
	"context"
	"log/slog"
	"sync"

	"github.com/stellaops/mirror/pkg/errdef"
)

// generationAhead is the generation check's read of the target's bundle
// repository (target.generation), started while the source bundle is
// still being read: by sync, whose source is a registry too, once the tag
// the bundle goes under is known (the destination's, or the version the
// source's root names). Read after the source (its root, metadata, signing and
// image manifests), the target's tag list, its tags and the newest held
// roots' signings were a chain of round trips of their own before the
// first blob; now they go beside the source's. It only reads: the bundle
// is judged against what it found (judgeGeneration) once the source is
// verified and checked, as before, and an error it met is told then. What
// it logged (deferredLog) is told once the source is planned (tell).
type generationAhead struct {
	tgt   *target
	repo  string
	trust TrustOptions
	log   *slog.Logger

	ctx    context.Context
	cancel context.CancelFunc
	once   sync.Once
	tag    string        // the tag read for; set by start
	done   chan struct{} // closed once the read is over; nil until start
	held   heldBundle
	err    error
	// logs holds what the read logs until its result is taken.
	logs *deferredLog
}

// newGenerationAhead returns the read of tgt's repo, to be started once
// the tag is known (start).
func newGenerationAhead(ctx context.Context, tgt *target, repo string, trust TrustOptions, log *slog.Logger) *generationAhead {
	ctx, cancel := context.WithCancel(ctx)
	logs, deferred := newDeferredLog(log, "the destination's generation check")
	return &generationAhead{tgt: tgt, repo: repo, trust: trust, log: deferred, logs: logs, ctx: ctx, cancel: cancel}
}

// start reads the repository for the bundle to go under tag; only the
// first call starts a read.
func (g *generationAhead) start(tag string) {
	g.once.Do(func() {
		g.tag, g.done = tag, make(chan struct{})
		go func() {
			defer close(g.done)
			defer errdef.Recover(&g.err) // a bug: the read's answer, told by result
			g.held, g.err = g.tgt.generation(g.ctx, g.repo, g.trust, g.log, tag)
		}()
	})
}

// result is what the read found for tag, once it is in; ok is false if no
// read was started for tag (the caller then reads for itself).
func (g *generationAhead) result(ctx context.Context, tag string) (held heldBundle, ok bool, err error) {
	g.once.Do(func() {}) // no read starts once one is asked for
	if g.done == nil || g.tag != tag {
		return heldBundle{}, false, nil
	}
	select {
	case <-g.done:
		return g.held, true, g.err
	case <-ctx.Done():
		return heldBundle{}, true, ctx.Err()
	}
}

// tell has what the read for tag logged told (a held root passed over,
// say), and what it logs from now on: the source is verified and planned,
// so this is their turn. What a read for another tag logs is never told.
func (g *generationAhead) tell(ctx context.Context, tag string) {
	g.once.Do(func() {})
	if g.done != nil && g.tag == tag {
		g.logs.flush(ctx)
	}
}

// stop ends a read still in flight and waits for it.
func (g *generationAhead) stop() {
	g.cancel()
	g.once.Do(func() {})
	if g.done != nil {
		<-g.done
	}
}
