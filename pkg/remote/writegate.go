package remote

import (
	"context"
	"net/http"
	"sync"
)

// WriteGate holds a run's writes to registries until a check that must
// pass before anything is written has passed: the reads that need not wait
// for it (whether the registry holds each blob and manifest) go beside
// the check instead of after it. Every request to a registry made with a
// context from HoldWrites that would write (isRegistryWrite) waits at the
// gate (holdWrite), whatever part of the run makes it, so no write can
// slip past the check.
type WriteGate struct {
	once sync.Once
	done chan struct{}
	err  error
}

// NewWriteGate returns a closed gate: writes wait until Open.
func NewWriteGate() *WriteGate { return &WriteGate{done: make(chan struct{})} }

// Open settles the gate, once: with a nil err the writes go, and with an
// error each write, held or later, fails with it and is not sent.
func (g *WriteGate) Open(err error) {
	g.once.Do(func() {
		g.err = err
		close(g.done)
	})
}

// Wait returns once the gate is settled: nil if writes may go, the error
// it was settled with if not, or ctx's error if ctx ends first.
func (g *WriteGate) Wait(ctx context.Context) error {
	select {
	case <-g.done:
		return g.err
	case <-ctx.Done():
		return ctx.Err()
	}
}

type writeGateKey struct{}

// HoldWrites returns a context whose requests' writes wait at g.
func HoldWrites(ctx context.Context, g *WriteGate) context.Context {
	return context.WithValue(ctx, writeGateKey{}, g)
}

// WaitWrites returns once writes made with ctx may go: at once without a
// gate (HoldWrites), else when its gate is settled (WriteGate.Wait). For
// work that tells of a write before its first request (an upload's
// progress), so as not to tell of one held or refused at the gate.
func WaitWrites(ctx context.Context) error {
	if g, ok := ctx.Value(writeGateKey{}).(*WriteGate); ok {
		return g.Wait(ctx)
	}
	return nil
}

// isRegistryWrite says whether req, a request to a registry, writes: any
// but a GET, HEAD or OPTIONS (an upload's POST, a mount too, its PATCH and
// PUT, a manifest's or tag's PUT, a DELETE). A token service's requests
// do not go through holdWrite: a read beside the check may need a token,
// and so may the check.
func isRegistryWrite(req *http.Request) bool {
	switch req.Method {
	case http.MethodGet, http.MethodHead, http.MethodOptions:
		return false
	}
	return true
}

// holdWrite waits, for a write made with a context from HoldWrites, until
// its gate opens; it returns the gate's error if it refused the write.
// Every request to a registry goes through it (reauthClient), before the
// host's challenge gate: a write held here is never the host's first
// request, which the host's other requests, the check's among them, wait
// for.
func holdWrite(req *http.Request) error {
	g, ok := req.Context().Value(writeGateKey{}).(*WriteGate)
	if !ok || !isRegistryWrite(req) {
		return nil
	}
	if err := g.Wait(req.Context()); err != nil {
		closeBody(req)
		return err
	}
	return nil
}
