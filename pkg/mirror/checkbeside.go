package mirror

import (
	"context"
	"log/slog"

	"github.com/stellaops/mirror/pkg/errdef"
	"github.com/stellaops/mirror/pkg/remote"
)

// checkBeside is a check that must pass before a placement writes anything
// (the generation check), run beside the placement's first reads: whether
// the target holds each blob and manifest is asked while the check reads
// the target's bundles, instead of after. The placement's writes wait at
// its gate (remote.WriteGate), and so does each step of it that writes
// without a request (placer.ready). A check that fails stops the
// placement, and its error is the one told, as when it ran first.
//
// What the check logs (a held root passed over, say) is held until the
// bundle is planned (tell) or the placement settled: a bundle its own plan
// refuses (abandon) fails without warnings about the target first, which
// would speak of a repository the run never reached in its own turn.
type checkBeside struct {
	gate *remote.WriteGate
	done chan struct{}
	err  error
	logs *deferredLog
	// stopCheck ends the check, stopWork the work beside it.
	stopCheck, stopWork context.CancelFunc
}

// startCheck runs check, logging to log once told, and returns it with
// the context the placement runs in: its writes wait for check, and it
// ends if check fails.
func startCheck(ctx context.Context, log *slog.Logger, check func(context.Context, *slog.Logger) error) (*checkBeside, context.Context) {
	cctx, stopCheck := context.WithCancel(ctx)
	wctx, stopWork := context.WithCancel(ctx)
	logs, held := newDeferredLog(log, "the generation check")
	c := &checkBeside{gate: remote.NewWriteGate(), done: make(chan struct{}), logs: logs, stopCheck: stopCheck, stopWork: stopWork}
	go func() {
		defer close(c.done)
		defer func() {
			c.gate.Open(c.err)
			if c.err != nil {
				stopWork()
			}
		}()
		defer errdef.Recover(&c.err) // a bug: the check's error, the writes held
		c.err = check(cctx, held)
	}()
	return c, remote.HoldWrites(wctx, c.gate)
}

// letGoFirst returns once tgt's first request of the run has had its
// answer, for the placement to ask tgt nothing before: the host's first
// request goes alone (its challenge), and it is to be the check's, whose
// chain of round trips is the longer, not the placement's. Where that
// request failed for good (the registry gone down, credentials refused),
// it returns once the check has ended, which that failure ends: the
// placement's first round of requests (each blob's and manifest's
// question, up to --concurrency of each) went out at the moment the check
// failed, beside it, before it could stop them.
func (c *checkBeside) letGoFirst(ctx context.Context, tgt *target) {
	select {
	case <-tgt.client.FirstAnswered(tgt.host):
	case <-c.done: // a check that asked nothing of the host
		return
	case <-ctx.Done():
		return
	}
	if tgt.client.FirstFailed(tgt.host) {
		select {
		case <-c.done:
		case <-ctx.Done():
		}
	}
}

// tell has what the check logged told, and what it logs from now on:
// the bundle is planned.
func (c *checkBeside) tell(ctx context.Context) {
	c.logs.flush(ctx)
}

// settle waits for the check to end and returns its error if it failed,
// else err, what came of the work beside it; what the check logged is
// told first.
func (c *checkBeside) settle(err error) error {
	c.tell(context.Background())
	<-c.done
	c.stopCheck()
	c.stopWork()
	if c.err != nil {
		return c.err
	}
	return err
}

// abandon ends the check and returns err: for work that failed where its
// own error, not the check's, is the one to tell. What the check logged
// is not told.
func (c *checkBeside) abandon(err error) error {
	c.stopCheck()
	<-c.done
	c.stopWork()
	return err
}
