package transfer

import (
	"fmt"
	"io"
	"sync"
)

// SeekReaderAt reads a seekable stream at any offset: reads that follow
// one another continue the stream, any other seeks (for a registry, a new
// ranged request). Reads at once are taken in turn, as io.ReaderAt
// promises callers they may be made.
type SeekReaderAt struct {
	mu   sync.Mutex
	rs   io.ReadSeeker
	size int64 // of the blob
	pos  int64 // where rs stands; -1 after a failed read
}

func (s *SeekReaderAt) ReadAt(p []byte, off int64) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.pos < 0 {
		// After a failed read, move away first: a stream that skips a seek
		// to where it stands (oras-go's ranged reader does) would otherwise
		// keep its spent answer instead of asking again. To the end, where
		// oras-go drops the answer without asking for another.
		if _, err := s.rs.Seek(s.size, io.SeekStart); err != nil {
			return 0, err
		}
	}
	if off != s.pos {
		if _, err := s.rs.Seek(off, io.SeekStart); err != nil {
			s.pos = -1
			return 0, err
		}
		s.pos = off
	}
	n, err := io.ReadFull(s.rs, p)
	s.pos += int64(n)
	switch {
	case err == nil:
		return n, nil
	case (err == io.EOF || err == io.ErrUnexpectedEOF) && s.pos >= s.size:
		return n, io.EOF
	case err == io.EOF || err == io.ErrUnexpectedEOF:
		// An answer cut short: a retry asks again from where it ended.
		err = fmt.Errorf("answer cut short at byte %d of %d: %w", s.pos, s.size, io.ErrUnexpectedEOF)
	}
	s.pos = -1
	return n, err
}

// NewSeekReaderAt reads rs, a blob of size bytes, at any offset. A blob
// answer of a registry that serves ranges (oras-go's) is one.
func NewSeekReaderAt(rs io.ReadSeeker, size int64) *SeekReaderAt {
	return &SeekReaderAt{rs: rs, size: size}
}
