package mirror

import (
	"context"

	"github.com/stellaops/mirror/pkg/remote"
)

// checkBeside is a check that must pass before a placement writes anything
// (the generation check), run beside the placement's first reads: whether
// the target holds each blob and manifest is asked while the check reads
// the target's bundles, instead of after. The placement's writes wait at
// its gate (remote.WriteGate), and so does each step of it that writes
// without a request (placer.ready). A check that fails stops the
// placement, and its error is the one told, as when it ran first.
type checkBeside struct {
	gate *remote.WriteGate
	done chan struct{}
	err  error
	// stopCheck ends the check, stopWork the work beside it.
	stopCheck, stopWork context.CancelFunc
}

// startCheck runs check and returns it with the context the placement
// runs in: its writes wait for check, and it ends if check fails.
func startCheck(ctx context.Context, check func(context.Context) error) (*checkBeside, context.Context) {
	cctx, stopCheck := context.WithCancel(ctx)
	wctx, stopWork := context.WithCancel(ctx)
	c := &checkBeside{gate: remote.NewWriteGate(), done: make(chan struct{}), stopCheck: stopCheck, stopWork: stopWork}
	go func() {
		defer close(c.done)
		c.err = check(cctx)
		c.gate.Open(c.err)
		if c.err != nil {
			stopWork()
		}
	}()
	return c, remote.HoldWrites(wctx, c.gate)
}

// letGoFirst returns once tgt's first request of the run has had its
// answer, for the placement to ask tgt nothing before: the host's first
// request goes alone (its challenge), and it is to be the check's, whose
// chain of round trips is the longer, not the placement's.
func (c *checkBeside) letGoFirst(ctx context.Context, tgt *target) {
	select {
	case <-tgt.client.FirstAnswered(tgt.host):
	case <-c.done: // a check that asked nothing of the host
	case <-ctx.Done():
	}
}

// settle waits for the check to end and returns its error if it failed,
// else err, what came of the work beside it.
func (c *checkBeside) settle(err error) error {
	<-c.done
	c.stopCheck()
	c.stopWork()
	if c.err != nil {
		return c.err
	}
	return err
}

// abandon ends the check and returns err: for work that failed where its
// own error, not the check's, is the one to tell.
func (c *checkBeside) abandon(err error) error {
	c.stopCheck()
	<-c.done
	c.stopWork()
	return err
}
