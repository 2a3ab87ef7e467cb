package mirror

import (
	"context"
	"sync"
	"sync/atomic"

	"github.com/opencontainers/go-digest"

	"github.com/stellaops/mirror/internal/errgroup"
	"github.com/stellaops/mirror/pkg/errdef"
	"github.com/stellaops/mirror/pkg/transfer"
)

// blobAnswer is whether a blob's first repository holds it, asked ahead of
// the blob's turn (checkAhead); or, as one of its others, whether one of
// its other repositories does.
type blobAnswer struct {
	done chan struct{}
	once sync.Once
	ok   bool
	err  error
	// others, set before a held answer is given, are the answers for the
	// blob's other repositories (b.repos[1:]); nil for a blob not held.
	others []*blobAnswer
	// claimed is set by whoever asks an other's question: the slots the
	// first checks freed (checkAhead), or the blob's spread.
	claimed atomic.Bool
}

// give sets the answer and lets its waiters go; an answer is given once,
// the first given standing.
func (a *blobAnswer) give(ok bool, err error) {
	a.once.Do(func() {
		a.ok, a.err = ok, err
		close(a.done)
	})
}

// wait returns the answer once it is in, or ctx's error first.
func (a *blobAnswer) wait(ctx context.Context) (bool, error) {
	select {
	case <-a.done:
		return a.ok, a.err
	case <-ctx.Done():
		return false, ctx.Err()
	}
}

// othersOnceHeld returns a's answers for the other repositories of its
// blob once a says the first holds it; nil before, or if it does not.
func (a *blobAnswer) othersOnceHeld() []*blobAnswer {
	if a == nil {
		return nil
	}
	select {
	case <-a.done:
		if a.ok && a.err == nil {
			return a.others
		}
	default:
	}
	return nil
}

// askLargestFirst runs checkAhead's asks largest first, small ones beside
// (a variable: a test puts a bug in it).
var askLargestFirst = transfer.LargestFirstWithSmall[*blobPlace]

// checkAhead asks whether each blob's first repository holds it, limit
// requests at a time, in the order given (or, if bySize, as
// transfer.LargestFirstWithSmall takes them), without waiting for the blobs
// before it to be sent: a blob's upload then starts with its answer in
// hand. Asked in turn, each blob cost a round trip before its POST and PUT,
// a third of the chain of a small blob's upload (720 blobs of 1 MiB, 8 at a
// time: 270 round trips one after another, 180 without). It returns the
// answers by blob, and a function that stops the checks not yet sent and
// waits for those in flight. A blob in known is held, its answer in from
// the start: it was asked already (a delta's omitted blobs, by
// checkDeltaBase), and each answer costs a round trip.
//
// A blob its first repository holds (a re-import, a delta's base) is also
// asked for in its other repositories (its answer's others), by each slot
// that a first check frees once none is left to start: those slots sat
// idle while the spreads asked the blobs' other repositories one after
// another, limit blobs at a time (a base layer in 9 repositories, 8 round
// trips in a row at the end of a re-import). Each of those questions is
// asked once, by whoever claims it first: a slot here, or the blob's
// spread (target.spread); the requests in flight stay within the slots of
// each.
//
// A first check that fails (the registry gone down, a refusal) is told to
// failed as it fails, not only to the blob's upload when its turn comes:
// that answer fails the placement, and the uploads in flight before it (a
// layer's, which a registry gone down holds through the idle timeout)
// are to end then, as are the checks after it, each a chain of retries.
func (t *target) checkAhead(ctx context.Context, blobs []*blobPlace, limit int, known map[digest.Digest]bool, bySize bool, failed context.CancelCauseFunc) (map[*blobPlace]*blobAnswer, func()) {
	answers := make(map[*blobPlace]*blobAnswer, len(blobs))
	others := &otherChecks{}
	var pending []*blobPlace
	for _, b := range blobs {
		a := &blobAnswer{done: make(chan struct{})}
		if known[b.desc.Digest] {
			others.hold(b, a)
			a.give(true, nil)
		} else {
			pending = append(pending, b)
		}
		answers[b] = a
	}
	ctx, cancel := context.WithCancel(ctx)
	var unstarted atomic.Int64 // first checks not yet begun
	unstarted.Store(int64(len(pending)))
	ask := func(ctx context.Context, b *blobPlace) error {
		unstarted.Add(-1)
		func() {
			var (
				ok  bool
				err error
			)
			// A panic (a bug) is this blob's answer too: recovered by the
			// worker, it left the answer never given, its upload waiting.
			defer func() {
				answers[b].give(ok, err)
				if err != nil && ctx.Err() == nil {
					failed(err)
				}
			}()
			defer errdef.Recover(&err)
			if err = ctx.Err(); err == nil {
				if ok, err = t.hasBlob(ctx, b.repos[0], b.desc); ok && err == nil {
					others.hold(b, answers[b])
				}
			}
		}()
		if unstarted.Load() == 0 {
			// No first check is left to start: this slot asks the other
			// repositories of the blobs held.
			others.ask(ctx, t)
		}
		return nil // every answer, error or not, is its blob's
	}
	finished := make(chan struct{})
	go func() {
		defer close(finished)
		// A panic (a bug) of the scheduling here is the answer of every
		// blob not answered yet: it ended the process with Go's exit code
		// 2, a digest mismatch's, and recovered alone it would leave their
		// uploads waiting for good. The other repositories' questions
		// left are asked by the spreads.
		var bug error
		defer func() {
			if bug != nil {
				for _, b := range pending {
					answers[b].give(false, bug)
				}
				failed(bug)
			}
		}()
		defer errdef.Recover(&bug)
		if bySize {
			_ = askLargestFirst(ctx, pending, func(b *blobPlace) int64 { return b.desc.Size }, limit, ask)
		} else {
			var g errgroup.Group
			g.SetLimit(limit)
			for _, b := range pending {
				g.Go(func() error { return ask(ctx, b) })
			}
			_ = g.Wait()
		}
		// What no freed slot took: the blobs known held, when there was
		// no first check to ask. A worker for each question left, within
		// the limit, and none when none is left (the usual case): at
		// --concurrency 256, 256 goroutines of 8 KiB with nothing to do.
		var g errgroup.Group
		for range min(max(limit, 1), others.len()) {
			g.Go(func() error {
				others.ask(ctx, t)
				return nil
			})
		}
		_ = g.Wait()
	}()
	return answers, func() { cancel(); <-finished }
}

// otherChecks are the questions whether a held blob's other repositories
// hold it, queued for the slots of checkAhead.
type otherChecks struct {
	mu     sync.Mutex
	checks []otherCheck
}

// otherCheck is whether b.repos[i] holds b, answered by a.
type otherCheck struct {
	b *blobPlace
	i int
	a *blobAnswer
}

// hold sets the answers for the other repositories of b, which its first
// holds, into a (before a is given), and queues their questions.
func (o *otherChecks) hold(b *blobPlace, a *blobAnswer) {
	if len(b.repos) < 2 {
		return
	}
	a.others = make([]*blobAnswer, len(b.repos)-1)
	o.mu.Lock()
	defer o.mu.Unlock()
	for i := range a.others {
		a.others[i] = &blobAnswer{done: make(chan struct{})}
		o.checks = append(o.checks, otherCheck{b: b, i: i + 1, a: a.others[i]})
	}
}

// len is how many questions are queued.
func (o *otherChecks) len() int {
	o.mu.Lock()
	defer o.mu.Unlock()
	return len(o.checks)
}

// ask asks the questions queued, one at a time, until none is left or ctx
// ends. It takes the last queued first: the blobs answered last, whose
// spreads, which go in the order of the first checks, come last too.
func (o *otherChecks) ask(ctx context.Context, t *target) {
	for ctx.Err() == nil {
		o.mu.Lock()
		n := len(o.checks)
		if n == 0 {
			o.mu.Unlock()
			return
		}
		c := o.checks[n-1]
		o.checks[n-1] = otherCheck{}
		o.checks = o.checks[:n-1]
		o.mu.Unlock()
		if c.a.claimed.CompareAndSwap(false, true) {
			c.ask(ctx, t)
		}
	}
}

// ask asks c's question and gives its answer; a panic (a bug) is its
// answer too, which its spread then asks again.
func (c otherCheck) ask(ctx context.Context, t *target) {
	var (
		ok  bool
		err error
	)
	defer func() { c.a.give(ok, err) }()
	defer errdef.Recover(&err)
	ok, err = t.hasBlob(ctx, c.b.repos[c.i], c.b.desc)
}
