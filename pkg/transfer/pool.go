package transfer

import (
	"context"
	"errors"
	"io"
	"sync"

	"golang.org/x/sync/semaphore"
)

// errBodyClosed ends a read of a request body after its request is over.
var errBodyClosed = errors.New("request body read after the request ended")

// ChunkPool is a fixed number of chunk buffers shared by the uploads that
// read from streams: however many are in flight, together they hold no more
// than Slots × Size bytes. Buffers are allocated on first use and reused.
type ChunkPool struct {
	size int64
	free chan []byte
	// small bounds the bytes of the buffers of small blobs (up to
	// smallBlob each, of their own size, outside the pool's): however many
	// uploads are in flight, together they hold no more than smallBudget.
	small *semaphore.Weighted
}

// smallBudget bounds the buffers of the small blobs in flight under one
// pool: one for each upload at the default concurrency (its workers and
// SmallWorkers beside them), whatever their size, so the default runs as
// before; 256 uploads of blobs of 1 MiB held 256 MiB.
const smallBudget = (DefaultConcurrency + DefaultConcurrency/4) * smallBlob

// NewChunkPool returns a pool of slots buffers of size bytes each.
func NewChunkPool(slots int, size int64) *ChunkPool {
	p := &ChunkPool{size: size, free: make(chan []byte, max(slots, 1)), small: semaphore.NewWeighted(smallBudget)}
	for range cap(p.free) {
		p.free <- nil
	}
	return p
}

// Size is the size of each buffer: the chunk size of the uploads using it.
func (p *ChunkPool) Size() int64 { return p.size }

// Slots is the number of buffers.
func (p *ChunkPool) Slots() int { return cap(p.free) }

// get waits for a free buffer, or returns false once done is closed.
func (p *ChunkPool) get(done <-chan struct{}) ([]byte, bool) {
	select {
	case b := <-p.free:
		if b == nil {
			b = make([]byte, p.size)
		}
		return b, true
	case <-done:
		return nil, false
	}
}

// holdSmall waits until n bytes (at most smallBlob) of the small blobs'
// budget are free and takes them, for release to give back.
func (p *ChunkPool) holdSmall(ctx context.Context, n int64) (release func(), err error) {
	n = min(max(n, 1), smallBudget)
	if err := p.small.Acquire(ctx, n); err != nil {
		return nil, err
	}
	return func() { p.small.Release(n) }, nil
}

// put returns a buffer taken with get.
func (p *ChunkPool) put(b []byte) {
	if b == nil {
		return // none taken: the chunk of a read that panicked before it took one (readChunks)
	}
	p.free <- b[:cap(b)]
}

// requestBody reads one request's body. The HTTP client may go on reading
// a body after the request has returned (a registry that answered early, a
// connection reset mid-write), so each attempt's body is closed off when
// the attempt is over: no read starts after close, and close waits for a
// read in progress. Only then is a chunk's buffer reused, or its source
// read by the next attempt.
type requestBody struct {
	mu     sync.Mutex
	r      io.Reader
	closed bool
}

func (g *requestBody) Read(p []byte) (int, error) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.closed {
		return 0, errBodyClosed
	}
	return g.r.Read(p)
}

func (g *requestBody) close() {
	g.mu.Lock()
	g.closed = true
	g.r = nil
	g.mu.Unlock()
}
