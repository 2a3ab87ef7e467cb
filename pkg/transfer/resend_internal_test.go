package transfer

import (
	"errors"
	"io"
	"math/rand/v2"
	"testing"

	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/stellaops/mirror/pkg/errdef"
)

// oneReadAt serves data to one ReadAt call and refuses any other.
type oneReadAt struct {
	data  []byte
	calls int
}

func (o *oneReadAt) ReadAt(p []byte, off int64) (int, error) {
	if o.calls++; o.calls > 1 {
		return 0, errors.New("read again")
	}
	return copy(p, o.data[off:]), nil
}

// A resend that breaks off leaves the registry holding bytes that were not
// checked yet; the next resend, from the registry's offset inside that
// block, starts from those very bytes (not from the source again), so a
// bad byte among them fails the check even when the rest is right.
func TestResendStartsFromCarriedBytes(t *testing.T) {
	data := make([]byte, 3<<20+5)
	rand.NewChaCha8([32]byte{9}).Read(data)
	desc := ocispec.Descriptor{Digest: digest.FromBytes(data), Size: int64(len(data))}
	const brokeAt, resumeAt, blockEnd = 1536 << 10, 1600 << 10, 2 << 20
	for _, tt := range []struct {
		name       string
		badInFirst bool // a bad byte in the resend that broke off (held by the registry)
		badInNext  bool // a bad byte in the resend after it
	}{
		{"both right", false, false},
		{"registry holds a bad byte", true, false},
		{"bad byte sent after", false, true},
	} {
		t.Run(tt.name, func(t *testing.T) {
			src := &oneReadAt{data: data}
			s := newHashedAt(src, "")
			if err := s.take(&hashingSection{src: s}, data); err != nil {
				t.Fatal(err)
			}
			first := append([]byte{}, data[brokeAt:1700<<10]...)
			if tt.badInFirst {
				first[resumeAt-brokeAt-10] ^= 1
			}
			// Its prefix, [1 MiB, 1.5 MiB), is read again: the one read allowed.
			if err := s.take(&hashingSection{src: s, pos: brokeAt}, first); err != nil {
				t.Fatalf("the resend that breaks off: %v", err)
			}
			next := append([]byte{}, data[resumeAt:blockEnd]...)
			if tt.badInNext {
				next[5] ^= 1
			}
			err := s.take(&hashingSection{src: s, pos: resumeAt}, next)
			if want := tt.badInFirst || tt.badInNext; want != errors.Is(err, errdef.ErrDigestMismatch) {
				t.Fatalf("the resend from the registry's offset: %v (want a mismatch: %v)", err, want)
			}
			if err == nil {
				if verr := s.verify(desc); verr != nil {
					t.Fatal(verr)
				}
			} else if s.verify(desc) == nil {
				t.Fatal("the content verifies after a failed resend")
			}
		})
	}
}

var _ io.ReaderAt = (*oneReadAt)(nil)

// What checks resent bytes is kept only for the bytes the registry has not
// acknowledged (a few hundred hash states at most, whatever the blob's
// size), and bytes it acknowledged are never taken as sent again.
func TestResendForgetsConfirmedBlocks(t *testing.T) {
	data := make([]byte, 5<<20+3)
	rand.NewChaCha8([32]byte{4}).Read(data)
	desc := ocispec.Descriptor{Digest: digest.FromBytes(data), Size: int64(len(data))}
	s := newHashedAt(bytesReaderAt(data), "")
	if err := s.take(&hashingSection{src: s}, data); err != nil {
		t.Fatal(err)
	}
	s.confirmed(3 << 20)
	if len(s.states) != 3 || s.first != 3 {
		t.Fatalf("after 3 MiB confirmed: %d states kept from block %d, want 3 from 3", len(s.states), s.first)
	}
	if err := s.take(&hashingSection{src: s, pos: 3<<20 + 5}, data[3<<20+5:]); err != nil {
		t.Fatalf("a resend after the confirmed bytes: %v", err)
	}
	if err := s.verify(desc); err != nil {
		t.Fatal(err)
	}
	if err := s.take(&hashingSection{src: s, pos: 2<<20 + 5}, data[2<<20+5:3<<20]); err == nil {
		t.Fatal("bytes the registry acknowledged were taken as sent again")
	}
}

type bytesReaderAt []byte

func (b bytesReaderAt) ReadAt(p []byte, off int64) (int, error) {
	n := copy(p, b[off:])
	if n < len(p) {
		return n, io.EOF
	}
	return n, nil
}
