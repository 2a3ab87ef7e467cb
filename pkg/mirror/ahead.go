package mirror

import (
	"context"
	"sync"

	"github.com/opencontainers/go-digest"

	"github.com/stellaops/mirror/internal/errgroup"
	"github.com/stellaops/mirror/pkg/errdef"
	"github.com/stellaops/mirror/pkg/transfer"
)

// blobAnswer is whether a blob's first repository holds it, asked ahead of
// the blob's turn (checkAhead).
type blobAnswer struct {
	done chan struct{}
	once sync.Once
	ok   bool
	err  error
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
func (t *target) checkAhead(ctx context.Context, blobs []*blobPlace, limit int, known map[digest.Digest]bool, bySize bool) (map[*blobPlace]*blobAnswer, func()) {
	answers := make(map[*blobPlace]*blobAnswer, len(blobs))
	var pending []*blobPlace
	for _, b := range blobs {
		a := &blobAnswer{done: make(chan struct{})}
		if known[b.desc.Digest] {
			a.give(true, nil)
		} else {
			pending = append(pending, b)
		}
		answers[b] = a
	}
	ctx, cancel := context.WithCancel(ctx)
	ask := func(ctx context.Context, b *blobPlace) error {
		var (
			ok  bool
			err error
		)
		// A panic (a bug) is this blob's answer too: recovered by the
		// worker, it left the answer never given, its upload waiting.
		defer func() { answers[b].give(ok, err) }()
		defer errdef.Recover(&err)
		if err = ctx.Err(); err == nil {
			ok, err = t.hasBlob(ctx, b.repos[0], b.desc)
		}
		return nil // every answer, error or not, is its blob's
	}
	finished := make(chan struct{})
	go func() {
		defer close(finished)
		// A panic (a bug) of the scheduling here is the answer of every
		// blob not answered yet: it ended the process with Go's exit code
		// 2, a digest mismatch's, and recovered alone it would leave their
		// uploads waiting for good.
		var bug error
		defer func() {
			if bug != nil {
				for _, b := range pending {
					answers[b].give(false, bug)
				}
			}
		}()
		defer errdef.Recover(&bug)
		if bySize {
			_ = askLargestFirst(ctx, pending, func(b *blobPlace) int64 { return b.desc.Size }, limit, ask)
			return
		}
		var g errgroup.Group
		g.SetLimit(limit)
		for _, b := range pending {
			g.Go(func() error { return ask(ctx, b) })
		}
		_ = g.Wait()
	}()
	return answers, func() { cancel(); <-finished }
}
