package transfer

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/url"
	"time"

	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	oremote "oras.land/oras-go/v2/registry/remote"
	"oras.land/oras-go/v2/registry/remote/auth"

	"github.com/stellaops/mirror/pkg/bundle"
	"github.com/stellaops/mirror/pkg/errdef"
	"github.com/stellaops/mirror/pkg/remote"
)

// DefaultChunkSize is the size of each upload request when
// Uploader.ChunkSize is zero: large enough that request overhead is small,
// small enough that holding one chunk in memory to re-send it after a fault
// keeps memory bounded.
const DefaultChunkSize = 16 << 20

// Uploader pushes blobs into one repository with the OCI chunked upload
// protocol (POST, PATCH…, PUT ?digest=). Each chunk is held in memory until
// the registry has it, so a transient fault (5xx, 429, a reset connection)
// is retried from the registry's own offset even when the source is a
// stream that cannot be read twice. The content is verified on the way: a
// blob whose bytes do not match its descriptor is never completed, and its
// upload session is cancelled. Registries that depart from that protocol
// are met where they say so (Dialect): chunks no smaller than the
// OCI-Chunk-Min-Length the POST answered (a request resumed after a fault
// too), and for one that refuses PATCH, each blob in one PUT.
type Uploader struct {
	// Repo is the destination repository. Its Client should not retry by
	// itself (remote.Client.UploadRepository gives such a repository), so
	// that retries happen here, with the registry's offset in mind.
	Repo *oremote.Repository
	// ChunkSize is the size of each request; 0 means DefaultChunkSize.
	ChunkSize int64
	// Pool, if set, supplies the chunk buffers (and their size, instead of
	// ChunkSize), shared with other uploads: a stream's upload reads as far
	// ahead as the pool allows. Without it each upload holds two chunks.
	Pool *ChunkPool
	// Attempts is how many times one request is tried; 0 means
	// DefaultAttempts.
	Attempts int
	// Backoff is the first wait between attempts, doubled each time up to
	// 8 seconds (a 429's Retry-After wins); 0 means 250ms.
	Backoff time.Duration
	// Progress, if set, receives the bytes the registry accepted.
	Progress Progress

	// Dialect, if set, is what the uploads to this registry learnt of its
	// upload dialect (its body limit included), shared with the Uploaders
	// of its other repositories; nil means this Uploader learns for itself
	// alone.
	Dialect *Dialect

	// own is the Dialect used when Dialect is nil.
	own Dialect
}

// smallBlob is the size up to which a blob is sent from a buffer of its
// own size rather than from the shared pool.
const smallBlob = 1 << 20

// StreamEnd is implemented by a reader given to Push that wants to know
// when Push has read it to its end: StreamEnded(nil) once the content read
// verified, or the error that stopped the read. Push reads no more after
// that, so the caller may move its stream on while the last chunks are
// still being sent.
type StreamEnd interface {
	StreamEnded(err error)
}

// Push uploads the blob desc from r, verifying it on the way. To a registry
// that refuses PATCH, only a blob that fits one chunk can go (in one PUT):
// a larger one fails, errdef.ErrUnavailable, rather than be held whole.
func (u *Uploader) Push(ctx context.Context, desc ocispec.Descriptor, r io.Reader) (err error) {
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
	if chunk := u.streamChunk(); u.dialect().monolithic.Load() && desc.Size > chunk {
		// Known to take no PATCH: fail before a session is opened.
		return fmt.Errorf("upload %s: %w", desc.Digest, errRefusesChunks(u.Repo.Reference.Host(), 0, desc.Size, chunk))
	}
	vr := bundle.NewVerifyReader(r, desc)
	var ended func(error)
	if se, ok := r.(StreamEnd); ok {
		ended = se.StreamEnded
	}
	if loc, err := u.upload(ctx, desc, vr, ended); err != nil {
		u.abandon(ctx, loc)
		return err
	}
	return nil
}

// chunk is a part of a blob read ahead of its upload.
type chunk struct {
	buf    []byte
	offset int64
	last   bool
	err    error
}

// upload opens an upload session and sends the blob in chunks. One
// goroutine reads (and so hashes) the next chunks while the session is
// opened and the current chunk is on the wire, as far ahead as the pool's
// free buffers allow, so memory stays bounded whatever the blob's size: a
// stream that fits the pool moves on to its next blob without waiting for
// the POST's round trip. The last chunk is sent only once the whole
// content verified. On failure it returns the upload session as it stands
// (nil if none was opened; a retry may have started over in a new one),
// for the caller to cancel.
func (u *Uploader) upload(ctx context.Context, desc ocispec.Descriptor, vr *bundle.VerifyReader, ended func(error)) (*url.URL, error) {
	pool := u.Pool
	if pool == nil || desc.Size <= smallBlob {
		// A small blob (a config, a manifest) is one chunk of its own size,
		// and does not take a shared buffer; under a pool, its bytes are
		// taken from the small blobs' budget until the upload is over.
		size := u.ChunkSize
		if size <= 0 {
			size = DefaultChunkSize
		}
		if pool != nil {
			size = pool.Size()
			release, err := pool.holdSmall(ctx, min(size, desc.Size))
			if err != nil {
				return nil, err
			}
			defer release()
		}
		pool = NewChunkPool(2, min(size, max(desc.Size, 1)))
	}
	ready := make(chan chunk, pool.Slots())
	done := make(chan struct{})
	defer func() {
		// The reader stops before upload returns (the caller's stream is
		// its own again), and every buffer goes back to the pool.
		close(done)
		for c := range ready {
			pool.put(c.buf)
		}
	}()
	go readChunks(vr, desc, pool, ready, done, ended)
	loc, err := u.start(ctx)
	if err != nil {
		return nil, err
	}
	// carry is the end of the chunk before, which the registry does not
	// hold yet (sendPieces): a copy, under one chunk, only after a fault.
	var carry []byte
	for c := range ready {
		if c.err != nil {
			pool.put(c.buf)
			return loc, c.err
		}
		next, rest, err := u.sendPieces(ctx, loc, desc, c, carry)
		pool.put(c.buf)
		if err != nil {
			return next, fmt.Errorf("upload %s: %w", desc.Digest, err)
		}
		if c.last {
			return nil, nil
		}
		loc, carry = next, rest
	}
	return loc, fmt.Errorf("upload %s: reader stopped: %w", desc.Digest, io.ErrUnexpectedEOF)
}

// sendPieces sends a chunk, after carry (the end of the chunk before,
// which the registry does not hold yet), in as many requests as the
// registry's body limit asks (one, unless a proxy refused one as too
// large), the last piece of the last chunk completing the upload (an
// empty blob's one empty chunk too). Where a request broke off and what
// is left of this chunk is under the registry's smallest chunk
// (restUnderMin), it returns that rest, copied, for the next chunk's first
// request to carry; else the session's next location alone.
func (u *Uploader) sendPieces(ctx context.Context, loc *url.URL, desc ocispec.Descriptor, c chunk, carry []byte) (*url.URL, []byte, error) {
	body := spliced{head: carry, tail: c.buf}
	size, start := body.Len(), c.offset-int64(len(carry))
	refusedOnce := false // the first PATCH was refused with a 404 or 400
	for p := int64(0); ; {
		n, err := u.piece(size-p, c.last)
		if err != nil {
			return loc, nil, err
		}
		last := c.last && p+n == size
		next, err := u.send(ctx, loc, body.part(p, n), start+p, last, desc.Digest)
		if tooLarge(err) {
			if err = u.shrink(n, err); err == nil {
				continue
			}
		}
		if status, ok := refusesChunks(err); ok && start+p == 0 {
			if u.learnRefusal(status, refusedOnce) {
				// A stream is sent in one request only when it fits
				// one chunk, and then it needed no PATCH: holding more
				// of it would leave memory unbounded.
				return next, nil, errRefusesChunks(u.Repo.Reference.Host(), status, desc.Size, u.streamChunk())
			}
			// Not yet known: the same PATCH once more, in a fresh session.
			refusedOnce = true
			if loc, err = u.startOver(ctx, next, true); err != nil {
				return next, nil, err
			}
			continue
		}
		var short *restUnderMin
		if errors.As(err, &short) {
			// The registry holds the piece up to short.held: the rest
			// goes with the bytes after it, in this chunk's next piece,
			// or, if too few are left, in the next chunk's first
			// (bounded: never more than one chunk is carried).
			if u.Progress != nil {
				u.Progress.Add(desc, short.held-start-p)
			}
			loc, p = next, short.held-start
			if left := size - p; !c.last && left < u.dialect().chunkMin.Load() && left <= int64(len(c.buf)) {
				return loc, body.rest(p), nil
			}
			continue
		}
		if err != nil {
			return next, nil, err
		}
		if u.Progress != nil {
			u.Progress.Add(desc, n)
		}
		loc, p = next, p+n
		if p == size {
			return loc, nil, nil
		}
	}
}

// readChunks reads the blob into free buffers and hands them on, ending
// with the chunk marked last (after the verifying reader confirmed size and
// digest) or with an error.
func readChunks(vr *bundle.VerifyReader, desc ocispec.Descriptor, pool *ChunkPool, ready chan<- chunk, done <-chan struct{}, ended func(error)) {
	var buf []byte // held, not yet handed on
	var panicked error
	defer func() {
		if panicked != nil {
			// A panic (a bug) of the read, the source's reader's
			// included: the upload's error, not the process's end.
			if ended != nil {
				ended(panicked)
			}
			select {
			case ready <- chunk{buf: buf, err: panicked}:
			case <-done:
				if buf != nil {
					pool.put(buf)
				}
			}
		}
		close(ready)
	}()
	defer errdef.Recover(&panicked)
	var offset int64
	for {
		var ok bool
		buf, ok = pool.get(done)
		if !ok {
			return
		}
		n := min(int64(len(buf)), desc.Size-offset)
		c := chunk{buf: buf[:n], offset: offset, last: offset+n == desc.Size}
		if _, err := io.ReadFull(vr, c.buf); err != nil {
			// The verifying reader ends short content with the mismatch
			// itself; an io.ErrUnexpectedEOF here is the source's own (a
			// registry's answer cut short by the network): a transient
			// fault, not content that fails its digest.
			if err == io.EOF {
				err = fmt.Errorf("%s: content ends at %d bytes, descriptor says %d: %w", desc.Digest, offset, desc.Size, errdef.ErrDigestMismatch)
			} else if errors.Is(err, io.ErrUnexpectedEOF) {
				err = fmt.Errorf("%s: reading the content after byte %d: %w", desc.Digest, offset, err)
			} else if merr := mediumFault(err); merr != nil {
				err = merr
			}
			c.err = err
		} else if c.last {
			// The verifying reader checks size and digest at its end.
			if _, err := vr.Read(make([]byte, 1)); err != io.EOF {
				if err == nil {
					err = fmt.Errorf("%s: content is longer than %d bytes: %w", desc.Digest, desc.Size, errdef.ErrDigestMismatch)
				}
				c.err = err
			}
		}
		if ended != nil && (c.err != nil || c.last) {
			ended(c.err)
		}
		select {
		case ready <- c:
			buf = nil
		case <-done:
			pool.put(buf)
			return
		}
		if c.err != nil || c.last {
			return
		}
		offset += n
	}
}
