package mirror

import (
	"io"
	"sync"
)

// streamEnd is a blob's reader in a stream. The upload reading it calls
// StreamEnded (transfer.StreamEnd) once it has read and verified the whole
// blob, or met an error; ended is also called when the placement is over.
// Whichever comes first closes done and records the error.
type streamEnd struct {
	io.Reader
	done chan struct{}
	once sync.Once
	err  error
}

func newStreamEnd(r io.Reader) *streamEnd {
	return &streamEnd{Reader: r, done: make(chan struct{})}
}

// StreamEnded records the end of reading.
func (s *streamEnd) StreamEnded(err error) {
	s.once.Do(func() {
		s.err = err
		close(s.done)
	})
}
