package bundle

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"hash"
	"io"

	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/stellaops/mirror/pkg/errdef"
)

// ContentError reports content that is not what its descriptor names: other
// bytes, or another length. It wraps errdef.ErrDigestMismatch. It is the
// fault of whatever the bytes were read from, never of where they were
// sent, so a caller that knows the source (an archive, a directory, a
// source registry) can name it; a registry that answers an upload with
// another digest fails otherwise.
type ContentError struct {
	// Digest is the digest the content was read for.
	Digest digest.Digest
	// Detail says how it differed ("content hashes to sha256:…").
	Detail string
	// Hash: the length was the descriptor's, the bytes hash to another
	// digest. No one can make a sound store hold such bytes under a
	// digest, whatever the descriptor they wrote: the store's fault.
	Hash bool
}

// Error implements error.
func (e *ContentError) Error() string {
	return fmt.Sprintf("%s: %s: %v", e.Digest, e.Detail, errdef.ErrDigestMismatch)
}

// Unwrap makes errors.Is(err, errdef.ErrDigestMismatch) hold.
func (e *ContentError) Unwrap() error { return errdef.ErrDigestMismatch }

// VerifyReader passes through exactly the bytes a descriptor promises and
// checks them on the way. Its Read returns an error wrapping
// errdef.ErrDigestMismatch, naming the digest, in place of the io.EOF that
// would end bad content, so a consumer that stops at the first error (io.Copy,
// an HTTP upload, a tar writer) never completes with it.
type VerifyReader struct {
	r    io.Reader
	desc ocispec.Descriptor
	h    hash.Hash
	n    int64
	err  error
}

// NewVerifyReader wraps r for desc. desc.Size is attacker-controllable, so
// the reader never passes more than desc.Size bytes, whatever r holds.
func NewVerifyReader(r io.Reader, desc ocispec.Descriptor) *VerifyReader {
	return &VerifyReader{r: r, desc: desc, h: sha256.New()}
}

// Read implements io.Reader.
func (v *VerifyReader) Read(p []byte) (int, error) {
	if v.err != nil {
		return 0, v.err
	}
	// Allow one byte past the size so that content that is too long is seen.
	if rem := v.desc.Size + 1 - v.n; int64(len(p)) > rem {
		p = p[:rem]
	}
	n, err := v.r.Read(p)
	v.h.Write(p[:n])
	v.n += int64(n)
	switch {
	case v.n > v.desc.Size:
		v.err = &ContentError{Digest: v.desc.Digest, Detail: fmt.Sprintf("content is longer than its size %d", v.desc.Size)}
		return n - 1, v.err
	case err == io.EOF:
		v.err = v.check()
		return n, v.err
	case err != nil:
		v.err = err
	}
	return n, err
}

func (v *VerifyReader) check() error {
	if v.n != v.desc.Size {
		return &ContentError{Digest: v.desc.Digest, Detail: fmt.Sprintf("content has %d bytes, descriptor says %d", v.n, v.desc.Size)}
	}
	if v.desc.Digest.Validate() != nil || v.desc.Digest.Algorithm() != digest.SHA256 {
		return fmt.Errorf("%q is not a valid sha256 digest: %w", v.desc.Digest, errdef.ErrMalformed)
	}
	if got := hex.EncodeToString(v.h.Sum(nil)); got != v.desc.Digest.Encoded() {
		return &ContentError{Digest: v.desc.Digest, Detail: "content hashes to sha256:" + got, Hash: true}
	}
	return io.EOF
}

// Verified reports whether the whole content was read and matched.
func (v *VerifyReader) Verified() bool { return v.err == io.EOF }

// VerifyBytes checks that data is exactly the content desc names.
func VerifyBytes(data []byte, desc ocispec.Descriptor) error {
	if int64(len(data)) != desc.Size {
		return &ContentError{Digest: desc.Digest, Detail: fmt.Sprintf("content has %d bytes, descriptor says %d", len(data), desc.Size)}
	}
	if digest.FromBytes(data) != desc.Digest {
		return &ContentError{Digest: desc.Digest, Detail: "content hashes to " + digest.FromBytes(data).String(), Hash: true}
	}
	return nil
}

// ReadAll reads the content desc names from r, at most limit bytes, and
// verifies it. It is for manifests and other documents held in memory.
func ReadAll(r io.Reader, desc ocispec.Descriptor, limit int64) ([]byte, error) {
	if desc.Size < 0 || desc.Size > limit {
		return nil, fmt.Errorf("%s: size %d exceeds the %d byte limit: %w", desc.Digest, desc.Size, limit, errdef.ErrMalformed)
	}
	// The buffer is exactly the content: callers hold thousands of these
	// (every manifest of a bundle, until the last is pushed or served).
	// The end of the stream is read into probe; VerifyReader refuses the
	// byte past the size, so probe never holds content.
	buf := make([]byte, 0, desc.Size)
	var probe [1]byte
	vr := NewVerifyReader(r, desc)
	for {
		p := buf[len(buf):cap(buf)]
		if len(p) == 0 {
			p = probe[:]
		}
		n, err := vr.Read(p)
		if len(buf) < cap(buf) {
			buf = buf[:len(buf)+n]
		}
		if err == io.EOF {
			return buf, nil
		}
		if err != nil {
			return nil, err
		}
	}
}
