package transfer

import (
	"bytes"
	"crypto/sha256"
	"encoding"
	"fmt"
	"hash"
	"io"
	"slices"
	"sync"

	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/stellaops/mirror/pkg/bundle"
)

// resendBlock is the unit in which bytes sent again after a fault are
// checked against the bytes first sent.
const resendBlock = 1 << 20

// hashedAt hashes a random-access source once, in order, as its bytes are
// first read for sending, however often parts of it are read again for
// retries (and by however many requests at once: a request the HTTP client
// still writes may overlap its retry).
//
// Bytes sent again, from the registry's offset on after a fault, are
// checked against those first sent, so that what the registry holds is
// what was hashed whatever the source does on a second read (flaky media, a
// hostile source registry) and whatever the registry checks: the hash state
// at each block boundary is kept (a hundred bytes per MiB), and a block
// sent again must bring the state of its start to the same next state, or
// to the state at the hashing frontier. A block whose resending breaks off
// keeps the bytes it sent, which the next resend starts from (the registry
// holds them); other prefixes are read again from the source.
type hashedAt struct {
	ra io.ReaderAt

	mu     sync.Mutex
	h      hash.Hash
	hashed int64
	// states[k-first] is the state of h after k blocks: those of blocks
	// the registry may not hold yet (a few hundred, whatever the size).
	states [][]byte
	first  int64
	// carry is the block a resend broke off in, as sent, unchecked.
	carry *resent
	// failed is set once the content did not verify.
	failed error
	// digest is the blob's, named where bytes read again differ.
	digest digest.Digest
}

// resent is a block being sent again: its bytes from the block's start.
type resent struct {
	k int64
	b []byte
}

// newHashedAt hashes the blob dg as it is read from ra.
func newHashedAt(ra io.ReaderAt, dg digest.Digest) *hashedAt {
	s := &hashedAt{ra: ra, h: sha256.New(), digest: dg}
	s.states = [][]byte{state(s.h)}
	return s
}

func state(h hash.Hash) []byte {
	b, err := h.(encoding.BinaryMarshaler).MarshalBinary()
	if err != nil {
		panic(err) // crypto/sha256 always can
	}
	return b
}

// take accounts for b, read by sec at sec.pos: bytes read the first time
// are hashed, bytes read again are checked. An error means none of b may
// be sent.
func (s *hashedAt) take(sec *hashingSection, b []byte) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.failed != nil {
		return s.failed
	}
	at := sec.pos
	for len(b) > 0 {
		if at >= s.hashed {
			if at > s.hashed {
				return fmt.Errorf("read at %d past the %d bytes hashed", at, s.hashed)
			}
			n := min(int64(len(b)), resendBlock-s.hashed%resendBlock)
			s.h.Write(b[:n])
			s.hashed += n
			if s.hashed%resendBlock == 0 {
				s.states = append(s.states, state(s.h))
			}
			at, b = at+n, b[n:]
			continue
		}
		k := at / resendBlock
		if sec.re == nil || sec.re.k != k {
			prefix, err := s.prefix(k, at)
			if err != nil {
				return err
			}
			sec.re = &resent{k: k, b: prefix}
		}
		end := min((k+1)*resendBlock, s.hashed)
		n := min(int64(len(b)), end-at)
		sec.re.b = append(sec.re.b, b[:n]...)
		s.carry = sec.re
		at, b = at+n, b[n:]
		if at == end {
			if err := s.check(sec.re, end); err != nil {
				s.failed = err
				return err
			}
			sec.re, s.carry = nil, nil
		}
	}
	sec.pos = at
	return nil
}

// prefix returns the bytes of block k before offset at, for checking the
// block as it is sent again from at: those the registry holds from a
// resend that broke off, else read again (any difference from what was
// first sent then fails the check). A read again that breaks off keeps
// the bytes it got, so the next attempt goes on from there: a network
// source whose answers are cut short (sync's) makes progress on every
// attempt instead of asking for the same block start each time.
func (s *hashedAt) prefix(k, at int64) ([]byte, error) {
	start := k * resendBlock
	need := at - start
	c := s.carry
	if c == nil || c.k != k {
		c = &resent{k: k, b: make([]byte, 0, min(resendBlock, s.hashed-start))}
	}
	if have := int64(len(c.b)); have < need {
		c.b = slices.Grow(c.b, int(need-have))[:need]
		n, err := s.ra.ReadAt(c.b[have:], start+have)
		c.b = c.b[:have+int64(n)]
		s.carry = c
		if int64(len(c.b)) < need {
			if err == nil || err == io.EOF {
				err = io.ErrUnexpectedEOF
			}
			return nil, fmt.Errorf("reading bytes %d to %d again: %w", start+have, at, err)
		}
	}
	b := make([]byte, need, min(resendBlock, s.hashed-start))
	copy(b, c.b)
	return b, nil
}

// check checks a block sent again, up to end, against what was first sent.
func (s *hashedAt) check(re *resent, end int64) error {
	v := sha256.New()
	if re.k < s.first {
		return fmt.Errorf("block %d sent again after the registry confirmed it", re.k)
	}
	if err := v.(encoding.BinaryUnmarshaler).UnmarshalBinary(s.states[re.k-s.first]); err != nil {
		return err
	}
	v.Write(re.b)
	want := state(s.h) // the frontier
	if next := re.k + 1 - s.first; next < int64(len(s.states)) {
		want = s.states[next]
	}
	if !bytes.Equal(state(v), want) {
		start := re.k * resendBlock
		// The source's content (a volume rewritten, a registry answering
		// otherwise), as a blob that fails its digest is.
		return &bundle.ContentError{Digest: s.digest, Detail: fmt.Sprintf("bytes %d to %d read again for a retry differ from those first sent", start, end)}
	}
	return nil
}

// confirmed forgets what checks the bytes before off, which the registry
// acknowledged holding: they are never sent again.
func (s *hashedAt) confirmed(off int64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	k := off / resendBlock
	if drop := min(k-s.first, int64(len(s.states))); drop > 0 {
		s.states = slices.Delete(s.states, 0, int(drop))
		s.first += drop
	}
	if s.carry != nil && s.carry.k < k {
		s.carry = nil
	}
}

func (s *hashedAt) err() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.failed
}

// verify checks the content hashed so far is exactly desc's.
func (s *hashedAt) verify(desc ocispec.Descriptor) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.failed != nil {
		return s.failed
	}
	if got := digest.NewDigest(digest.SHA256, s.h); s.hashed != desc.Size || got != desc.Digest {
		s.failed = &bundle.ContentError{Digest: desc.Digest, Detail: "content hashes to " + got.String()}
	}
	return s.failed
}

// hashingSection reads a section of the source for one request, hashing
// the bytes read the first time and checking those read again.
type hashingSection struct {
	src *hashedAt
	r   io.Reader
	pos int64
	re  *resent // the block this section is sending again, if any
}

func (s *hashingSection) Read(p []byte) (int, error) {
	n, err := s.r.Read(p)
	if n > 0 {
		if terr := s.src.take(s, p[:n]); terr != nil {
			return 0, terr
		}
	}
	return n, err
}
