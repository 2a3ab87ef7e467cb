package transfer

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	oremote "oras.land/oras-go/v2/registry/remote"
	"oras.land/oras-go/v2/registry/remote/auth"
	"oras.land/oras-go/v2/registry/remote/errcode"

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
	loc, err := u.start(ctx)
	if err != nil {
		return err
	}
	if loc, err := u.upload(ctx, loc, desc, vr, ended); err != nil {
		// An interrupted run leaves the session to expire on the registry:
		// cleaning up must not hold up the interruption.
		if ctx.Err() == nil {
			u.cancel(loc)
		}
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

// upload sends the blob in chunks. One goroutine reads (and so hashes) the
// next chunks while the current one is on the wire, as far ahead as the
// pool's free buffers allow, so memory stays bounded whatever the blob's
// size. The last chunk is sent only once the whole content verified. On
// failure it returns the upload session as it stands (a retry may have
// started over in a new one), for the caller to cancel.
func (u *Uploader) upload(ctx context.Context, loc *url.URL, desc ocispec.Descriptor, vr *bundle.VerifyReader, ended func(error)) (*url.URL, error) {
	pool := u.Pool
	if pool == nil || desc.Size <= smallBlob {
		// A small blob (a config, a manifest) is one chunk of its own size,
		// and does not take a shared buffer.
		size := u.ChunkSize
		if size <= 0 {
			size = DefaultChunkSize
		}
		if pool != nil {
			size = pool.Size()
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
	defer close(ready)
	var offset int64
	for {
		buf, ok := pool.get(done)
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

// start opens an upload session and returns its location.
func (u *Uploader) start(ctx context.Context) (*url.URL, error) {
	base := u.baseURL() + "/blobs/uploads/"
	var loc *url.URL
	err := u.retry(ctx, func() (bool, error) {
		req, err := http.NewRequestWithContext(ctx, http.MethodPost, base, nil)
		if err != nil {
			return false, err
		}
		resp, err := u.Repo.Client.Do(req)
		if err != nil {
			return true, err
		}
		defer drain(resp)
		if resp.StatusCode != http.StatusAccepted {
			return retryable(resp), responseError(resp)
		}
		u.dialect().learnChunkMin(resp.Header.Get("OCI-Chunk-Min-Length"))
		loc, err = u.location(resp, req.URL)
		return false, err
	})
	return loc, err
}

// send sends one chunk: a PATCH, or for the last one a PUT with the digest.
// After a fault it asks the registry how much it holds and sends the rest.
// It returns the session's next location; on failure, the session as it
// stands (one it started over in, if it did), for the caller to cancel.
func (u *Uploader) send(ctx context.Context, loc *url.URL, data chunkBody, offset int64, last bool, dg digest.Digest) (*url.URL, error) {
	var sent int64 // bytes of data the registry is known to hold
	var next *url.URL
	var progressed bool // the registry holds more than when the try began
	try := func() (bool, error) {
		before := sent
		defer func() { progressed = sent > before }()
		bodyLen := data.Len() - sent
		method := http.MethodPatch
		target := *loc
		if last {
			method = http.MethodPut
			q := target.Query()
			q.Set("digest", dg.String())
			target.RawQuery = q.Encode()
		}
		// A body can be read again (a redirect, a connection the registry
		// closed); each is closed off when the request is over.
		var bodies []*requestBody
		open := func() io.Reader {
			r := data.From(sent)
			bodies = append(bodies, r)
			return r
		}
		defer func() {
			for _, g := range bodies {
				g.close()
			}
		}()
		req, err := http.NewRequestWithContext(ctx, method, target.String(), open())
		if err != nil {
			return false, err
		}
		req.GetBody = func() (io.ReadCloser, error) { return io.NopCloser(open()), nil }
		req.ContentLength = bodyLen
		if bodyLen == 0 {
			req.Body, req.GetBody = http.NoBody, nil
		}
		req.Header.Set("Content-Type", "application/octet-stream")
		if bodyLen > 0 {
			start := offset + sent
			req.Header.Set("Content-Range", fmt.Sprintf("%d-%d", start, start+bodyLen-1))
		}
		resp, err := u.Repo.Client.Do(req)
		if f, ok := data.(interface{ failed() error }); ok && f.failed() != nil {
			if err == nil {
				drain(resp)
			}
			return false, f.failed()
		}
		if errors.Is(err, errdef.ErrMalformed) || errors.Is(err, errdef.ErrDigestMismatch) {
			// The source itself is bad (a corrupt frame, content that does
			// not hash right): sending it again would not mend it.
			return false, err
		}
		if err == nil {
			defer drain(resp)
			// A chunk's PATCH is answered 202, though some registries say
			// 201: the chunk is in either way, and the session goes on at
			// the Location given. Only a 201 completes the upload.
			accepted := resp.StatusCode == http.StatusAccepted || resp.StatusCode == http.StatusCreated
			if last {
				accepted = resp.StatusCode == http.StatusCreated
			}
			if accepted {
				if last {
					return false, stored(resp, dg)
				}
				next, err = u.location(resp, req.URL)
				return false, err
			}
			if resp.StatusCode != http.StatusRequestedRangeNotSatisfiable && !retryable(resp) {
				err := responseError(resp)
				if !sessionGone(err) {
					return false, err
				}
				if offset > 0 {
					// Bytes sent before this request are lost with the
					// session: only a source that reads again may start over.
					return false, fmt.Errorf("%w: %w", remote.Classify(err), errSessionLost)
				}
				// The session held no byte but of this request (none, or
				// those before a cut), all still in hand: the same bytes,
				// in a new session.
				fresh, ferr := u.start(ctx)
				if ferr != nil {
					return false, ferr
				}
				loc, sent = fresh, 0
				return true, err
			}
			err = responseError(resp)
		}
		// Ask the registry where the upload stands before trying again.
		held, newLoc, serr := u.status(ctx, loc)
		if serr != nil && last {
			// The last request may have completed the blob and only its
			// answer been lost: then the session is gone and the blob is in.
			if ok, eerr := u.Repo.Blobs().Exists(ctx, ocispec.Descriptor{Digest: dg, Size: offset + data.Len()}); eerr == nil && ok {
				return false, nil
			}
		}
		if serr != nil && offset == 0 && !remote.IsTransient(serr) {
			// A registry that cannot report an upload's state (or lost the
			// session): while every byte sent is still in hand, start over.
			fresh, ferr := u.start(ctx)
			if ferr != nil {
				return false, ferr
			}
			u.cancel(loc)
			loc, sent = fresh, 0
			return true, err
		}
		if serr != nil && errors.Is(remote.Classify(serr), errdef.ErrNotFound) {
			// The session is gone with bytes sent before this chunk (the
			// registry v2.8 drops one asked about with a Location whose
			// offset is stale, as after a cut: 404): only a source that
			// can be read again may start over.
			return false, fmt.Errorf("%w (upload status: %v): %w", remote.Classify(err), remote.Classify(serr), errSessionLost)
		}
		if serr != nil {
			return remote.IsTransient(serr), fmt.Errorf("%w (upload status: %v)", remote.Classify(err), remote.Classify(serr))
		}
		if held < 0 && offset == 0 {
			// Nothing or one byte held: rather than guess (a wrong guess is
			// refused with 416 every time), start over in a new session.
			fresh, ferr := u.start(ctx)
			if ferr != nil {
				return false, ferr
			}
			u.cancel(loc)
			loc, sent = fresh, 0
			return true, err
		}
		held = max(held, 0)
		if held < offset || held > offset+data.Len() {
			return false, fmt.Errorf("registry holds %d bytes of the upload, expected %d to %d: %w", held, offset, offset+data.Len(), errdef.ErrUnavailable)
		}
		loc, sent = newLoc, held-offset
		if rest := data.Len() - sent; !last && sent > 0 && rest < max(u.dialect().chunkMin.Load(), 1) {
			// What is left of a PATCH the registry took part of is never
			// sent alone under its smallest chunk: it goes with the bytes
			// after it (restUnderMin). None left: the registry took it
			// all, and only the answer was lost.
			next = loc
			if rest == 0 {
				return false, nil
			}
			return false, &restUnderMin{host: u.Repo.Reference.Host(), held: held, rest: rest, chunkMin: u.dialect().chunkMin.Load()}
		}
		return true, err
	}
	_, err := retryProgress(ctx, u.Attempts, u.Backoff, func() (bool, bool, error) {
		again, err := try()
		return again, progressed, err
	})
	if err != nil {
		return loc, remote.Classify(err)
	}
	return next, nil
}

// errSessionLost marks an upload whose session the registry no longer
// knows, after it held part of the blob.
var errSessionLost = errors.New("the registry lost the upload session")

// status asks the registry how many bytes an upload session holds.
func (u *Uploader) status(ctx context.Context, loc *url.URL) (int64, *url.URL, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, loc.String(), nil)
	if err != nil {
		return 0, nil, err
	}
	resp, err := u.Repo.Client.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer drain(resp)
	if resp.StatusCode != http.StatusNoContent && resp.StatusCode != http.StatusOK {
		return 0, nil, responseError(resp)
	}
	newLoc, err := u.location(resp, req.URL)
	if err != nil {
		newLoc = loc
	}
	// Range: "0-<last byte>"; distribution also says "0-0" for an empty
	// session, so "0-0" is reported as -1: nothing or one byte, unknown.
	held := int64(0)
	if rng := resp.Header.Get("Range"); rng != "" {
		_, end, ok := strings.Cut(strings.TrimPrefix(rng, "bytes="), "-")
		if e, err := strconv.ParseInt(end, 10, 64); ok && err == nil {
			held = e + 1
			if e == 0 {
				held = -1
			}
		}
	}
	return held, newLoc, nil
}

// startOver abandons the upload session loc and opens a fresh one, after
// a wait of Backoff if wait is set (a fault of the moment may pass).
func (u *Uploader) startOver(ctx context.Context, loc *url.URL, wait bool) (*url.URL, error) {
	u.cancel(loc)
	if wait {
		if err := pause(ctx, u.Backoff); err != nil {
			return nil, err
		}
	}
	return u.start(ctx)
}

// cancel abandons an upload session; failures are ignored (the registry
// expires sessions on its own).
func (u *Uploader) cancel(loc *url.URL) {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	ctx = auth.AppendRepositoryScope(ctx, u.Repo.Reference, auth.ActionPull, auth.ActionPush)
	// distribution refuses (416) a Location whose state token is stale: a
	// request broke off after it took part of the body, or is still being
	// taken. Its status answer carries a fresh one; without the cancel the
	// partial upload stays on its disk for days.
	for range 4 {
		if u.delete(ctx, loc) != http.StatusRequestedRangeNotSatisfiable {
			return
		}
		_, fresh, err := u.status(ctx, loc)
		if err != nil {
			return
		}
		loc = fresh
	}
}

// delete sends DELETE to an upload session and returns the answer's
// status (0 if none came).
func (u *Uploader) delete(ctx context.Context, loc *url.URL) int {
	req, err := http.NewRequestWithContext(ctx, http.MethodDelete, loc.String(), nil)
	if err != nil {
		return 0
	}
	resp, err := u.Repo.Client.Do(req)
	if err != nil {
		return 0
	}
	drain(resp)
	return resp.StatusCode
}

// Mount asks the registry to link the blob desc from another repository of
// the same registry, without sending it. It reports false (and cancels the
// session) when the registry would rather have the content uploaded, or
// refuses the mount (refusesMount).
func (u *Uploader) Mount(ctx context.Context, desc ocispec.Descriptor, fromRepo string) (bool, error) {
	ctx = auth.AppendRepositoryScope(ctx, u.Repo.Reference, auth.ActionPull, auth.ActionPush)
	from := u.Repo.Reference
	from.Repository = fromRepo
	ctx = auth.AppendRepositoryScope(ctx, from, auth.ActionPull)
	q := url.Values{"mount": {desc.Digest.String()}, "from": {fromRepo}}
	target := u.baseURL() + "/blobs/uploads/?" + q.Encode()
	mounted := false
	err := u.retry(ctx, func() (bool, error) {
		req, err := http.NewRequestWithContext(ctx, http.MethodPost, target, nil)
		if err != nil {
			return false, err
		}
		resp, err := u.Repo.Client.Do(req)
		if err != nil {
			return true, err
		}
		defer drain(resp)
		switch resp.StatusCode {
		case http.StatusCreated:
			if err := stored(resp, desc.Digest); err != nil {
				return false, err
			}
			mounted = true
			return false, nil
		case http.StatusAccepted:
			if loc, err := u.location(resp, req.URL); err == nil {
				u.cancel(loc)
			}
			return false, nil
		}
		if refusesMount(resp) {
			return false, nil
		}
		return retryable(resp), responseError(resp)
	})
	return mounted, err
}

// refusesMount reports whether a mount's answer is a registry declining to
// mount, which an upload of the content mends: a token that grants no pull
// on the source repository (Harbor, Quay, GHCR answer 401 or 403, where
// Docker Hub starts an upload), a source it does not find (404), no mounts
// at all (405, 400). A mount only saves sending the blob; should the
// destination itself refuse, the upload that follows says so.
func refusesMount(resp *http.Response) bool {
	return resp.StatusCode >= 400 && resp.StatusCode < 500 && !retryable(resp)
}

// stored checks the answer of a request that completed a blob (an
// upload's PUT, a mount) against the digest sent: a registry whose
// Docker-Content-Digest or Location names another blob does not hold that
// content under its digest (it rewrote it, or is faulty), and nothing may
// be written that points to it. Both are optional; what is absent is not
// checked.
func stored(resp *http.Response, want digest.Digest) error {
	claims := []string{resp.Header.Get("Docker-Content-Digest")}
	if loc, err := resp.Request.URL.Parse(resp.Header.Get("Location")); err == nil {
		if _, last, ok := strings.Cut(loc.Path, "/blobs/"); ok {
			claims = append(claims, last)
		}
	}
	for _, c := range claims {
		if got, err := digest.Parse(c); err == nil && got != want {
			return fmt.Errorf("registry %s says it stored %s for the blob %s sent: %w", resp.Request.URL.Host, got, want, errdef.ErrDigestMismatch)
		}
	}
	return nil
}

func (u *Uploader) baseURL() string {
	scheme := "https"
	if u.Repo.PlainHTTP {
		scheme = "http"
	}
	return scheme + "://" + u.Repo.Reference.Host() + "/v2/" + u.Repo.Reference.Repository
}

// location resolves a response's Location against the request, in any
// form the distribution spec allows (a path, an absolute URL, one on
// another host: a registry whose configured name is not the one used, a
// front sending uploads to another node). One that downgrades from https
// is refused: stella talks HTTP only with --plain-http. Credentials do not
// follow an upload to another host: the auth client keeps tokens per
// host, and gives one only to the host it was issued for.
func (u *Uploader) location(resp *http.Response, reqURL *url.URL) (*url.URL, error) {
	raw := resp.Header.Get("Location")
	if raw == "" {
		return nil, fmt.Errorf("registry %s sent no upload Location: %w", reqURL.Host, errdef.ErrUnavailable)
	}
	loc, err := reqURL.Parse(raw)
	if err != nil {
		return nil, fmt.Errorf("registry %s sent a bad upload Location: %w", reqURL.Host, errdef.ErrUnavailable)
	}
	if reqURL.Scheme == "https" && loc.Scheme != "https" {
		return nil, fmt.Errorf("registry %s sent an upload Location on %s://%s: refused: %w", reqURL.Host, loc.Scheme, loc.Host, errdef.ErrUnavailable)
	}
	return loc, nil
}

// retry runs op with retryLoop's backoff and classifies the final error.
func (u *Uploader) retry(ctx context.Context, op func() (bool, error)) error {
	_, err := retryLoop(ctx, u.Attempts, u.Backoff, op)
	return remote.Classify(err)
}

// retryable reports whether a registry's answer is worth another try: a
// 5xx but 501 Not Implemented (the server does not support the method at
// all, a permanent answer), 429, 408.
func retryable(resp *http.Response) bool {
	return resp.StatusCode >= 500 && resp.StatusCode != http.StatusNotImplemented ||
		resp.StatusCode == http.StatusTooManyRequests || resp.StatusCode == http.StatusRequestTimeout
}

func drain(resp *http.Response) {
	io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	resp.Body.Close()
}

// registryError is a registry's error answer, with its Retry-After.
type registryError struct {
	*errcode.ErrorResponse
	retryAfter time.Duration
}

func (e *registryError) Unwrap() error { return e.ErrorResponse }

// responseError reads a registry's error answer (bounded) into an error
// that remote.Classify understands.
func responseError(resp *http.Response) error {
	e := &errcode.ErrorResponse{Method: resp.Request.Method, URL: resp.Request.URL, StatusCode: resp.StatusCode}
	var body struct {
		Errors errcode.Errors `json:"errors"`
	}
	if data, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10)); len(data) > 0 && json.Unmarshal(data, &body) == nil {
		e.Errors = body.Errors
	}
	return &registryError{ErrorResponse: e, retryAfter: remote.RetryAfter(resp)}
}

// chunkBody is the body of one upload request, readable again from any of
// its bytes for a retry.
type chunkBody interface {
	Len() int64
	From(n int64) *requestBody
}

// memChunk is a chunk held in memory (streamed sources).
type memChunk []byte

func (m memChunk) Len() int64                { return int64(len(m)) }
func (m memChunk) From(n int64) *requestBody { return &requestBody{r: bytes.NewReader(m[n:])} }

// PushAt uploads the blob desc from a source that can be read at any
// offset (a blob file, a section of a plain tar): nothing is held in
// memory, since a retry reads the bytes again from where the registry's
// copy ends. The content is hashed once, as it is first sent; the upload is
// completed (PUT ?digest=) only after the whole content verified. To a
// registry that refuses PATCH the blob goes in that one PUT, streamed from
// ra all the same.
func (u *Uploader) PushAt(ctx context.Context, desc ocispec.Descriptor, ra io.ReaderAt) (err error) {
	if u.Progress != nil {
		u.Progress.Start(desc)
		defer func() { u.Progress.Done(desc, err) }()
	}
	ctx = auth.AppendRepositoryScope(ctx, u.Repo.Reference, auth.ActionPull, auth.ActionPush)
	loc, err := u.start(ctx)
	if err != nil {
		return err
	}
	src := newHashedAt(ra)
	fail := func(err error) error {
		if ctx.Err() == nil {
			u.cancel(loc)
		}
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
			src, off = newHashedAt(ra), 0
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
