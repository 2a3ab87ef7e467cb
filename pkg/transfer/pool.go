package transfer

import (
	"errors"
	"io"
	"sync"
)

// errBodyClosed ends a read of a request body after its request is over.
var errBodyClosed = errors.New("request body read after the request ended")

// ChunkPool is a fixed number of chunk buffers shared by the uploads that
// read from streams: however many are in flight, together they hold no more
// than Slots × Size bytes. Buffers are allocated on first use and reused.
type ChunkPool struct {
	size int64
	free chan []byte
}

// NewChunkPool returns a pool of slots buffers of size bytes each.
func NewChunkPool(slots int, size int64) *ChunkPool {
	p := &ChunkPool{size: size, free: make(chan []byte, max(slots, 1))}
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

// put returns a buffer taken with get.
func (p *ChunkPool) put(b []byte) { p.free <- b[:cap(b)] }

// guardedReader reads a chunk's bytes for one request. The HTTP client may
// go on reading a request body after it has returned (a registry that
// answered early), so the chunk's buffer is reused only once the request
// has been closed off: no read starts after close, and close waits for a
// read in progress.
type guardedReader struct {
	mu     sync.Mutex
	b      []byte
	closed bool
}

func (g *guardedReader) Read(p []byte) (int, error) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.closed {
		return 0, errBodyClosed
	}
	if len(g.b) == 0 {
		return 0, io.EOF
	}
	n := copy(p, g.b)
	g.b = g.b[n:]
	return n, nil
}

func (g *guardedReader) close() {
	g.mu.Lock()
	g.closed = true
	g.b = nil
	g.mu.Unlock()
}
