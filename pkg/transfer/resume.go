package transfer

import (
	"fmt"
	"io"

	"github.com/stellaops/mirror/pkg/remote"
)

// resumingReader reads a blob's answer front to back and, when it breaks
// off (cut short, reset, stalled), asks for the rest with a ranged request
// instead of failing the copy, which then fetched the blob again from its
// first byte: a large layer over a link that drops now and then is
// fetched once. A resume is made only after bytes came since the last
// one, and at most budget times, whatever the registry does; otherwise
// the fault is the copy's, which retries it whole.
type resumingReader struct {
	ra     *SeekReaderAt
	size   int64
	pos    int64
	budget int
	// resumedAt is where the last resume started; -1 before any.
	resumedAt int64
}

func newResumingReader(rs io.ReadSeeker, size int64, budget int) *resumingReader {
	return &resumingReader{ra: NewSeekReaderAt(rs, size), size: size, budget: budget, resumedAt: -1}
}

func (r *resumingReader) Read(p []byte) (int, error) {
	if r.pos >= r.size {
		return 0, io.EOF
	}
	p = p[:min(int64(len(p)), r.size-r.pos)]
	for {
		n, err := r.ra.ReadAt(p, r.pos)
		r.pos += int64(n)
		if n == 0 && r.pos == r.resumedAt && err != nil && err != io.EOF && !remote.IsTransient(err) {
			// The ranged request that was to resume the answer failed
			// (oras-go reports its 503 as a plain "unexpected status
			// code"): the fault is still the cut, which the copy retries
			// whole, its fetch classifying whatever the registry says.
			err = &resumeError{at: r.pos, err: err}
		}
		// A transient fault (cut short, reset, stalled) may be got past by
		// a new ranged request.
		if err == nil || err == io.EOF || !remote.IsTransient(err) || r.budget == 0 || r.pos <= r.resumedAt {
			return n, err
		}
		r.budget--
		r.resumedAt = r.pos
		if n > 0 {
			return n, nil // the next read resumes
		}
	}
}

// resumeError is the failure of a ranged request made to go on after an
// answer broke off: transient, like the break it follows.
type resumeError struct {
	at  int64
	err error
}

func (e *resumeError) Error() string {
	return fmt.Sprintf("resuming the answer at byte %d: %v", e.at, e.err)
}

func (e *resumeError) Unwrap() []error { return []error{e.err, io.ErrUnexpectedEOF} }
