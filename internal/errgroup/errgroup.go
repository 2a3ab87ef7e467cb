// Package errgroup is golang.org/x/sync/errgroup with a panic (a bug) of a
// goroutine recovered into that goroutine's error, an *errdef.Panic
// carrying its stack: Wait returns it and the CLI ends the run with exit
// code 1 and one line, "internal error: panic: …". x/sync's Group lets a
// panic end the process with Go's exit code 2, which DESIGN.md gives to a
// checksum or digest mismatch, so a script took a bug for a tampered
// bundle.
//
// It is a drop-in: the same names (WithContext, Group, Go, TryGo,
// SetLimit, Wait), so that a file moves over by its import line alone.
// Every goroutine of a run is started through it or defers
// errdef.Recover itself (TestNoDirectErrgroup keeps x/sync's out).
package errgroup

import (
	"context"
	"sync"

	"golang.org/x/sync/errgroup"

	"github.com/stellaops/mirror/pkg/errdef"
)

// A Group is x/sync's errgroup.Group whose goroutines' panics are
// recovered as errors. A zero Group is valid, has no limit and does not
// cancel on error.
type Group struct {
	once sync.Once
	g    *errgroup.Group // made on first use: a zero Group is x/sync's zero Group
}

func (g *Group) group() *errgroup.Group {
	g.once.Do(func() {
		if g.g == nil {
			g.g = new(errgroup.Group)
		}
	})
	return g.g
}

// WithContext returns a new Group and a Context derived from ctx, canceled
// the first time a function passed to Go returns an error or panics, or
// when Wait returns, whichever comes first.
func WithContext(ctx context.Context) (*Group, context.Context) {
	g, ctx := errgroup.WithContext(ctx)
	return &Group{g: g}, ctx
}

// Go calls f in a new goroutine, as x/sync's Go does; a panic of f is its
// error, an *errdef.Panic.
func (g *Group) Go(f func() error) { g.group().Go(recovered(f)) }

// TryGo is x/sync's TryGo, a panic of f being its error as in Go.
func (g *Group) TryGo(f func() error) bool { return g.group().TryGo(recovered(f)) }

// SetLimit is x/sync's SetLimit.
func (g *Group) SetLimit(n int) { g.group().SetLimit(n) }

// Wait waits for every function passed to Go and returns the first error,
// a panic's as any other's, as x/sync's Wait does. The first stands: a
// digest mismatch found before another goroutine panicked is still told
// as one. A caller that passes over some errors must not pass over a
// panic's (errors.Is(err, errdef.ErrInternal)).
func (g *Group) Wait() error { return g.group().Wait() }

func recovered(f func() error) func() error {
	return func() (err error) {
		defer errdef.Recover(&err)
		return f()
	}
}
