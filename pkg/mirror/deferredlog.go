package mirror

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
)

// deferredLog holds what a read started ahead of its turn logs (the
// generation check sync starts while the source is still being read; the
// weighing of a root's referrers while the root is), until its result is
// taken (flush): a source refused has the reader fail without the
// destination's warnings first, which would speak of a repository the run
// never reached in its own turn, and a root that cannot be read fails
// without warnings about referrers of it. Records past
// maxDeferredRecords are counted, not held, and said to be so at the
// flush.
type deferredLog struct {
	// of names what logs into it, for the count of records not held.
	of      string
	mu      sync.Mutex
	held    []deferredRecord
	dropped int
	flushed bool
	to      *slog.Logger
}

type deferredRecord struct {
	h slog.Handler
	r slog.Record
}

// maxDeferredRecords bounds the records a deferredLog holds: a hostile
// repository can make a check warn once per root or referrer.
const maxDeferredRecords = 256

// newDeferredLog returns the log and a logger writing into it; its
// records go to to (nil: nowhere) when flushed. of names what logs into it.
func newDeferredLog(to *slog.Logger, of string) (*deferredLog, *slog.Logger) {
	d := &deferredLog{of: of, to: logger(to)}
	return d, slog.New(deferredHandler{d: d, next: d.to.Handler()})
}

// flush logs what is held, in order, and holds nothing more: later
// records go straight through.
func (d *deferredLog) flush(ctx context.Context) {
	d.mu.Lock()
	held, dropped := d.held, d.dropped
	d.held, d.dropped, d.flushed = nil, 0, true
	d.mu.Unlock()
	for _, h := range held {
		_ = h.h.Handle(ctx, h.r)
	}
	if dropped > 0 {
		d.to.Warn(fmt.Sprintf("%d more log records of %s not shown", dropped, d.of))
	}
}

// deferredHandler is a slog.Handler holding its records in d.
type deferredHandler struct {
	d    *deferredLog
	next slog.Handler
}

func (h deferredHandler) Enabled(ctx context.Context, l slog.Level) bool {
	return h.next.Enabled(ctx, l)
}

func (h deferredHandler) Handle(ctx context.Context, r slog.Record) error {
	h.d.mu.Lock()
	defer h.d.mu.Unlock()
	switch {
	case h.d.flushed:
		return h.next.Handle(ctx, r)
	case len(h.d.held) >= maxDeferredRecords:
		h.d.dropped++
		return nil
	}
	h.d.held = append(h.d.held, deferredRecord{h: h.next, r: r.Clone()})
	return nil
}

func (h deferredHandler) WithAttrs(attrs []slog.Attr) slog.Handler {
	return deferredHandler{d: h.d, next: h.next.WithAttrs(attrs)}
}

func (h deferredHandler) WithGroup(name string) slog.Handler {
	return deferredHandler{d: h.d, next: h.next.WithGroup(name)}
}
