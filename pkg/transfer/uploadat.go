package transfer

import (
	"context"
	"errors"
	"fmt"
	"io"

	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	"oras.land/oras-go/v2/registry/remote/auth"

	"github.com/stellaops/mirror/pkg/remote"
)

// PushAt uploads the blob desc from a source that can be read at any
// offset (a blob file, a section of a plain tar): nothing is held in
// memory, since a retry reads the bytes again from where the registry's
// copy ends. The content is hashed once, as it is first sent; the upload is
// completed (PUT ?digest=) only after the whole content verified. To a
// registry that refuses PATCH the blob goes in that one PUT, streamed from
// ra all the same.
func (u *Uploader) PushAt(ctx context.Context, desc ocispec.Descriptor, ra io.ReaderAt) (err error) {
	// Started, and told so, once the run's writes may go: not while they
	// wait for a check, which may refuse them (remote.HoldWrites).
	if err := remote.WaitWrites(ctx); err != nil {
		return err
	}
	if u.Progress != nil {
		u.Progress.Start(desc)
		defer func() { u.Progress.Done(desc, err) }()
	}
	ctx = auth.AppendRepositoryScope(ctx, u.Repo.Reference, auth.ActionPull, auth.ActionPush)
	loc, err := u.start(ctx)
	if err != nil {
		return err
	}
	src := newHashedAt(ra, desc.Digest)
	fail := func(err error) error {
		u.abandon(ctx, loc)
		return err
	}
	// The last chunk rides on the PUT that completes the upload (one
	// request fewer per blob, which counts with many small ones), its very
	// last byte held back until the whole blob verified. A registry that
	// takes no PATCH, or wants chunks larger than our requests, gets the
	// whole blob so, in one PUT streamed from the source.
	d := u.dialect()
	whole := d.monolithic.Load() || d.chunkMin.Load() > atChunkSize
	refusedOnce := false // the first PATCH was refused with a 404 or 400
	restarts := 0
	for off := int64(0); off < desc.Size; {
		n, err := u.piece(desc.Size-off, true)
		if err != nil {
			return fail(fmt.Errorf("upload %s: %w", desc.Digest, err))
		}
		if !whole {
			n = min(n, atChunkSize)
		}
		last := off+n == desc.Size
		var body chunkBody = atChunk{src, off, n}
		if last {
			body = sealedChunk{atChunk{src, off, n}, desc}
		}
		next, err := u.send(ctx, loc, body, off, last, desc.Digest)
		if tooLarge(err) && !d.monolithic.Load() {
			// A proxy in front of the registry limits request bodies:
			// the same bytes again, in smaller requests.
			if err = u.shrink(n, err); err == nil {
				continue
			}
		}
		if status, ok := refusesChunks(err); ok && off == 0 && !whole {
			// Once more in a fresh session (the refused one may be
			// spent): as one PUT where the registry is known to take no
			// PATCH, else the same PATCH, which confirms a 404 or 400.
			whole = u.learnRefusal(status, refusedOnce)
			refusedOnce = true
			// next is the session the PATCH was refused in: send may have
			// started over in another than loc.
			if loc, err = u.startOver(ctx, next, !whole); err != nil {
				return err
			}
			continue
		}
		if errors.Is(err, errSessionLost) && restarts < maxRestarts {
			// The blob from its first byte, in a new session, hashed
			// afresh: the source reads again.
			restarts++
			if loc, err = u.start(ctx); err != nil {
				return err
			}
			src, off = newHashedAt(ra, desc.Digest), 0
			if u.Progress != nil {
				u.Progress.Start(desc)
			}
			continue
		}
		var short *restUnderMin
		if errors.As(err, &short) {
			// The registry holds the piece up to short.held: the next
			// piece starts there, at least the registry's minimum long.
			if u.Progress != nil {
				u.Progress.Add(desc, short.held-off)
			}
			loc, off = next, short.held
			src.confirmed(off)
			continue
		}
		if err != nil {
			loc = next
			return fail(fmt.Errorf("upload %s: %w", desc.Digest, err))
		}
		if u.Progress != nil {
			u.Progress.Add(desc, n)
		}
		loc, off = next, off+n
		src.confirmed(off)
	}
	if err := src.verify(desc); err != nil {
		// Only a registry that completed the upload without reading it
		// all gets here: nothing is written that points to the blob.
		return fail(err)
	}
	if desc.Size > 0 {
		return nil
	}
	if next, err := u.send(ctx, loc, memChunk(nil), 0, true, desc.Digest); err != nil {
		loc = next
		return fail(fmt.Errorf("upload %s: %w", desc.Digest, err))
	}
	return nil
}

// atChunkSize is the size of each request of PushAt: a retry re-reads its
// bytes from the source, so it can be large. A variable only so that tests
// can make PushAt send a small blob in several requests.
var atChunkSize int64 = 512 << 20

// maxRestarts bounds how often PushAt starts a blob over after the
// registry dropped its session mid-way: each follows a fault.
const maxRestarts = 3

// sealedChunk is a blob's last chunk, sent with the PUT that completes the
// upload: its reader passes the blob's final byte only once the whole
// content verified, and otherwise ends with the mismatch one byte short.
// A registry that checked no digest could still not complete a bad blob:
// it never receives all of it.
type sealedChunk struct {
	atChunk
	desc ocispec.Descriptor
}

func (c sealedChunk) From(k int64) *requestBody {
	return &requestBody{r: &sealedReader{hashingSection: c.section(k), end: c.off + c.n, desc: c.desc}}
}

// failed reports the mismatch that stopped the chunk's reader, if any: the
// request it broke is not retried.
func (c sealedChunk) failed() error { return c.src.err() }

type sealedReader struct {
	*hashingSection
	end  int64
	desc ocispec.Descriptor
}

func (s *sealedReader) Read(p []byte) (int, error) {
	n, err := s.hashingSection.Read(p)
	if n == 0 || s.pos != s.end {
		return n, err
	}
	// This read ends the blob: its last byte goes only if all is well (a
	// failed read of the source comes first, as the cause).
	if err != nil && err != io.EOF {
		return n - 1, err
	}
	if verr := s.src.verify(s.desc); verr != nil {
		return n - 1, verr
	}
	return n, err
}

type atChunk struct {
	src    *hashedAt
	off, n int64
}

func (c atChunk) Len() int64                { return c.n }
func (c atChunk) From(k int64) *requestBody { return &requestBody{r: c.section(k)} }

// section reads the chunk from its byte k on, hashing what was not hashed.
func (c atChunk) section(k int64) *hashingSection {
	return &hashingSection{src: c.src, r: io.NewSectionReader(c.src.ra, c.off+k, c.n-k), pos: c.off + k}
}
