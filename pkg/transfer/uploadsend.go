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
	"oras.land/oras-go/v2/registry/remote/auth"
	"oras.land/oras-go/v2/registry/remote/errcode"

	"github.com/stellaops/mirror/pkg/errdef"
	"github.com/stellaops/mirror/pkg/remote"
)

// start opens an upload session and returns its location.
//
// A POST cut off by ctx's end (another blob failed, Ctrl-C) can still open
// a session on the registry, whose Location the client never reads: the
// registry keeps it for its purge (distribution: a week), with nothing to
// cancel it. So the POST is let finish, for cancelWaitInterrupted at most
// once ctx ends, and a session it opened after ctx ended is cancelled.
func (u *Uploader) start(ctx context.Context) (*url.URL, error) {
	base := u.baseURL() + "/blobs/uploads/"
	post, stop := context.WithCancel(context.WithoutCancel(ctx))
	defer stop()
	defer context.AfterFunc(ctx, func() { time.AfterFunc(cancelWaitInterrupted, stop) })()
	var loc *url.URL
	err := u.retry(ctx, func() (bool, error) {
		req, err := http.NewRequestWithContext(post, http.MethodPost, base, nil)
		if err != nil {
			return false, err
		}
		resp, err := u.Repo.Client.Do(req)
		if err != nil {
			// A fault of the network is tried again; credentials refused,
			// a certificate not trusted, are refused again.
			return remote.IsTransient(err), err
		}
		defer drain(resp)
		if resp.StatusCode != http.StatusAccepted {
			return refusal(resp)
		}
		u.dialect().learnChunkMin(resp.Header.Get("OCI-Chunk-Min-Length"))
		loc, err = u.location(resp, req.URL)
		return false, err
	})
	if ctx.Err() != nil {
		u.abandon(ctx, loc)
		return nil, ctx.Err()
	}
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
	// resumeFrom goes on from held, the bytes of the upload the registry
	// says it holds, at its session's fresh location newLoc, after err:
	// again says to send the rest.
	resumeFrom := func(held int64, newLoc *url.URL, err error) (again bool, _ error) {
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
		if merr := mediumFault(err); merr != nil {
			return false, merr
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
				// A registry restarted with no http.secret set (the
				// distribution registry draws one at each start) refuses
				// the state token of each session it handed out before
				// (404 BLOB_UPLOAD_INVALID "invalid secret"), yet holds
				// the session: its status answer carries a fresh token,
				// and the upload goes on from its offset (staleState). A
				// session the status does not find either is lost; so is
				// one holding less than the registry had taken (a crash of
				// its host lost what it had not written out) or more than
				// was sent: only a source that reads again starts over.
				if held, fresh, serr := u.status(ctx, loc); serr == nil && held >= offset && held <= offset+data.Len() {
					if again, rerr := resumeFrom(held, fresh, err); !again {
						return false, rerr
					}
					return false, &staleState{err}
				}
				if offset > 0 {
					// Bytes sent before this request are lost with the
					// session: only a source that reads again may start over.
					return false, fmt.Errorf("%w: %w", remote.Classify(err), errSessionLost)
				}
				// The session held no byte but of this request (none, or
				// those before a cut), all still in hand: the same bytes,
				// in a new session (lostAtStart).
				return false, &lostAtStart{err}
			}
			if err = responseError(resp); remote.IsStorageFault(err) {
				return false, err
			}
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
		return resumeFrom(max(held, 0), newLoc, err)
	}
	for restarts, refreshes := 0, 0; ; restarts++ {
		_, err := retryProgress(ctx, u.Attempts, u.Backoff, func() (bool, bool, error) {
			again, err := try()
			return again, progressed, err
		})
		var stale *staleState
		if errors.As(err, &stale) {
			// A registry restart is no fault of the transfer either: the
			// rest goes at the fresh location (try moved loc and sent),
			// with tries of its own, as often as a session may be lost.
			if refreshes == maxRestarts {
				return loc, fmt.Errorf("%w (refused again after %d fresh state tokens from its upload status)", remote.Classify(stale.err), refreshes)
			}
			refreshes, restarts = refreshes+1, restarts-1
			continue
		}
		var lost *lostAtStart
		if errors.As(err, &lost) {
			// The registry's loss, not a fault of the transfer: the
			// same bytes go in a fresh session, with tries of their
			// own, whatever --retries allows (--retries 0 too), as
			// often as PushAt starts a blob over.
			if restarts == maxRestarts {
				return loc, fmt.Errorf("%w (the registry lost %d upload sessions in turn, each at its first request)", remote.Classify(lost.err), restarts+1)
			}
			fresh, ferr := u.start(ctx)
			if ferr != nil {
				return loc, ferr
			}
			loc, sent = fresh, 0
			continue
		}
		if err != nil {
			return loc, remote.Classify(err)
		}
		return next, nil
	}
}

// lostAtStart is a registry's answer that it lost an upload session
// holding no byte but of the request it refused, all still in hand.
type lostAtStart struct{ err error }

func (e *lostAtStart) Error() string { return e.err.Error() }
func (e *lostAtStart) Unwrap() error { return e.err }

// staleState is a registry's refusal of an upload session's state token
// (404) for a session its status answer still knows, at the offset and
// fresh location the upload has moved to: a registry restarted since it
// handed the token out.
type staleState struct{ err error }

func (e *staleState) Error() string { return e.err.Error() }
func (e *staleState) Unwrap() error { return e.err }

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

// cancelWait bounds the cancel of an upload session that failed;
// cancelWaitInterrupted one abandoned because its run was interrupted
// (Ctrl-C, or another blob's failure), which it must not hold up long.
const (
	cancelWait            = 3 * time.Second
	cancelWaitInterrupted = time.Second
)

// abandon cancels the upload session loc (nil: none) of an upload that
// failed, or whose run was interrupted (ctx done): the registry would
// otherwise hold its partial data until its purge (distribution's: a
// week). Best effort: the upload's own error is the one told.
func (u *Uploader) abandon(ctx context.Context, loc *url.URL) {
	if loc == nil {
		return
	}
	if ctx.Err() != nil {
		u.cancelWithin(loc, cancelWaitInterrupted)
		return
	}
	u.cancel(loc)
}

// cancel abandons an upload session; failures are ignored (the registry
// expires sessions on its own).
func (u *Uploader) cancel(loc *url.URL) {
	u.cancelWithin(loc, cancelWait)
}

// cancelWithin is cancel, given at most wait.
func (u *Uploader) cancelWithin(loc *url.URL, wait time.Duration) {
	ctx, cancel := context.WithTimeout(context.Background(), wait)
	defer cancel()
	ctx = auth.AppendRepositoryScope(ctx, u.Repo.Reference, auth.ActionPull, auth.ActionPush)
	// distribution refuses (416) a Location whose state token is stale: a
	// request broke off after it took part of the body, or is still being
	// taken; and (404) one it handed out before a restart, with a secret it
	// no longer has. Its status answer carries a fresh one; without the
	// cancel the partial upload stays on its disk for days. (A session it
	// lost answers the status 404 too, and is left.)
	for range 4 {
		if st := u.delete(ctx, loc); st != http.StatusRequestedRangeNotSatisfiable && st != http.StatusNotFound {
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
// 5xx but 501 (http.StatusNotImplemented: the server does not support the
// method at all, a permanent answer), 429, 408.
func retryable(resp *http.Response) bool {
	return resp.StatusCode >= 500 && resp.StatusCode != http.StatusNotImplemented ||
		resp.StatusCode == http.StatusTooManyRequests || resp.StatusCode == http.StatusRequestTimeout
}

func drain(resp *http.Response) {
	io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	resp.Body.Close()
}

// refusal reads a registry's error answer, and whether to try again: a
// retryable status, but for a fault of the registry's storage, which no
// retry mends (remote.IsStorageFault).
func refusal(resp *http.Response) (again bool, err error) {
	err = responseError(resp)
	return retryable(resp) && !remote.IsStorageFault(err), err
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
	err := &registryError{ErrorResponse: e, retryAfter: remote.RetryAfter(resp)}
	if allow := resp.Header.Get("Allow"); resp.StatusCode == http.StatusMethodNotAllowed && resp.Request.Method == http.MethodPost && allow != "" && !allows(allow, http.MethodPost) {
		// An upload's POST refused with an Allow that lists no POST:
		// the distribution registry in read-only mode answers every
		// write so (Allow: GET, HEAD), before any byte is sent.
		return fmt.Errorf("%w (registry %s is in read-only mode: it allows only %s; run again once it takes pushes: storage.maintenance.readonly, for the distribution registry): %w",
			err, resp.Request.URL.Host, allow, errdef.ErrUnavailable)
	}
	return err
}

// allows reports whether an Allow header lists method.
func allows(allow, method string) bool {
	for _, m := range strings.Split(allow, ",") {
		if strings.EqualFold(strings.TrimSpace(m), method) {
			return true
		}
	}
	return false
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
