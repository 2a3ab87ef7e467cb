package transfer

import (
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"sync/atomic"

	"oras.land/oras-go/v2/registry/remote/errcode"

	"github.com/stellaops/mirror/pkg/errdef"
)

// Dialect is what uploads learnt of how one registry takes blobs, beyond
// the chunked protocol every registry is asked for first: the smallest
// chunk it takes (OCI-Chunk-Min-Length), the largest request a proxy in
// front of it lets through, and whether it refuses chunks (PATCH)
// altogether, taking a blob only as one PUT. Share one among the
// Uploaders of a registry host so that what one upload learnt spares the
// others a refused request. The zero value knows nothing. Safe for
// concurrent use.
type Dialect struct {
	// chunkMin is the OCI-Chunk-Min-Length the registry answered the last
	// POST that opened an upload with (0: none). It is the registry's word
	// alone, so it sizes no buffer: a minimum over what one request of an
	// upload carries makes PushAt send the blob in one PUT, and a stream
	// over one chunk fail.
	chunkMin atomic.Int64
	// monolithic is set once the registry is known to refuse PATCH
	// (learnRefusal).
	monolithic atomic.Bool
	// limit is the largest request body the registry was found to take:
	// a proxy's limit is the host's, whatever the repository.
	limit bodyLimit
}

// learnChunkMin records the OCI-Chunk-Min-Length header of the answer that
// opened an upload session. One absent, not a positive integer, or
// unparsable counts as none; one past int64 as the largest (it asks more
// than any request carries either way).
func (d *Dialect) learnChunkMin(h string) {
	n, err := strconv.ParseInt(strings.TrimSpace(h), 10, 64)
	if err != nil && !(errors.Is(err, strconv.ErrRange) && n > 0) || n < 0 {
		n = 0
	}
	if d.chunkMin.Load() != n {
		d.chunkMin.Store(n)
	}
}

// refusesChunks reports whether err is a registry's refusal of an
// upload's PATCH as such, and its status: 405 Method Not Allowed or 501
// (the server supports no such method), or 404 or 400 from registries that
// route no PATCH (learnRefusal says which of these count at once). A 404
// saying BLOB_UPLOAD_UNKNOWN, or BLOB_UPLOAD_INVALID (sessionGone), is
// about the session (lost, or opened on another node), not the method.
func refusesChunks(err error) (int, bool) {
	var rerr *registryError
	if !errors.As(err, &rerr) || rerr.Method != http.MethodPatch || sessionGone(err) {
		return 0, false
	}
	for _, e := range rerr.Errors {
		if e.Code == errcode.ErrorCodeBlobUploadUnknown {
			return 0, false
		}
	}
	switch rerr.StatusCode {
	case http.StatusMethodNotAllowed, http.StatusNotImplemented, http.StatusNotFound, http.StatusBadRequest:
		return rerr.StatusCode, true
	}
	return 0, false
}

// sessionGone reports whether err is a registry's answer that it no longer
// knows an upload session (404 with BLOB_UPLOAD_UNKNOWN, or with
// BLOB_UPLOAD_INVALID, which distribution v2.8 answers when a request's
// offset is not the session's, as after a cut, and then drops it): the
// bytes it held are gone with it.
func sessionGone(err error) bool {
	var rerr *registryError
	if !errors.As(err, &rerr) || rerr.StatusCode != http.StatusNotFound {
		return false
	}
	for _, e := range rerr.Errors {
		if e.Code == errcode.ErrorCodeBlobUploadUnknown || e.Code == errcode.ErrorCodeBlobUploadInvalid {
			return true
		}
	}
	return false
}

// learnRefusal records the refusal (status, from refusesChunks) of an
// upload's first PATCH, and reports whether the registry is now known to
// take no chunks: then every upload to it sends each blob in one PUT. A
// 405 or 501 says so at once. A 404 or 400 says so from a registry that
// routes no PATCH, but may be a fault of the moment (a load balancer
// sending the session to a node that does not know it): it counts only
// once confirmed, when the upload's first PATCH in a fresh session is
// refused so again (again); before that, the upload tries that PATCH.
func (u *Uploader) learnRefusal(status int, again bool) bool {
	if !again && status != http.StatusMethodNotAllowed && status != http.StatusNotImplemented {
		return false
	}
	u.dialect().monolithic.Store(true)
	return true
}

// errRefusesChunks is the failure of a streamed blob larger than the one
// chunk it may be sent whole from, to a registry that takes no PATCH:
// sending it in one request would mean holding all of it in memory.
func errRefusesChunks(host string, status int, size, chunk int64) error {
	answer := "it refused a PATCH"
	if status != 0 {
		answer = fmt.Sprintf("PATCH answered %d", status)
	}
	return fmt.Errorf("registry %s refuses chunked uploads (%s), taking a blob only in one request: a blob read from a stream goes so only if it fits one %s chunk, and this one is %s: %w",
		host, answer, sizeText(chunk), sizeText(size), errdef.ErrUnavailable)
}

// errChunkMinOverLimit is the failure of an upload whose registry wants
// chunks larger than a proxy in front of it lets through.
func errChunkMinOverLimit(host string, chunkMin, refused int64) error {
	return fmt.Errorf("registry %s wants upload chunks of at least %s (OCI-Chunk-Min-Length), but a proxy in front of it refused a request of %s: raise the proxy's limit (nginx client_max_body_size 0): %w",
		host, sizeText(chunkMin), sizeText(refused), errdef.ErrUnavailable)
}

// errChunkMinOverChunk is the failure of a streamed blob larger than one
// chunk, whose registry wants chunks larger than those stella holds.
func errChunkMinOverChunk(host string, chunkMin, chunk int64) error {
	return fmt.Errorf("registry %s wants upload chunks of at least %s (OCI-Chunk-Min-Length), over the %s chunks a blob read from a stream is sent in: %w",
		host, sizeText(chunkMin), sizeText(chunk), errdef.ErrUnavailable)
}

// sizeText writes n bytes as MiB or KiB when it is a whole number of
// them, and in bytes otherwise.
func sizeText(n int64) string {
	switch {
	case n > 0 && n%(1<<20) == 0:
		return fmt.Sprintf("%d MiB", n>>20)
	case n > 0 && n%(1<<10) == 0:
		return fmt.Sprintf("%d KiB", n>>10)
	}
	return fmt.Sprintf("%d bytes", n)
}

// dialect is the Dialect this Uploader learns into.
func (u *Uploader) dialect() *Dialect {
	if u.Dialect != nil {
		return u.Dialect
	}
	return &u.own
}

// streamChunk is the size of the chunks Push holds a stream's blob in:
// the largest blob it can send in one request.
func (u *Uploader) streamChunk() int64 {
	switch {
	case u.Pool != nil:
		return u.Pool.Size()
	case u.ChunkSize > 0:
		return u.ChunkSize
	}
	return DefaultChunkSize
}

// piece is how many of the rem bytes left of a chunk the next request
// carries: as many as the body limit lets through (all, with none known).
// Where the registry set a smallest chunk, every PATCH carries at least
// that. With toEnd (the rem bytes end the blob, the last of them going
// with the PUT, which may be short), the PATCHes carry at least the
// minimum each. A chunk that does not end the blob (a stream's) is all
// PATCHes: it is split as evenly as the body limit asks, or into fewer,
// larger pieces if those would be short, as long as they stay under any
// request refused.
func (u *Uploader) piece(rem int64, toEnd bool) (int64, error) {
	d := u.dialect()
	n := d.limit.size(rem)
	m := d.chunkMin.Load()
	if m == 0 || n == rem && (toEnd || n >= m) {
		return n, nil
	}
	host := u.Repo.Reference.Host()
	if toEnd {
		if n = min(rem, max(n, m)); n < rem && !d.limit.under(n) {
			return 0, errChunkMinOverLimit(host, m, d.limit.refused.Load())
		}
		return n, nil
	}
	if rem < m {
		return 0, errChunkMinOverChunk(host, m, u.streamChunk())
	}
	if k := ceilDiv(rem, n); rem/k >= m {
		return ceilDiv(rem, k), nil
	}
	if n = ceilDiv(rem, rem/m); !d.limit.under(n) {
		return 0, errChunkMinOverLimit(host, m, d.limit.refused.Load())
	}
	return n, nil
}

// shrink answers a request of n bytes refused as too large (err): nil to
// send the same bytes again in smaller requests (no smaller than the
// registry's smallest chunk), or the error that ends the upload.
func (u *Uploader) shrink(n int64, err error) error {
	d := u.dialect()
	m := d.chunkMin.Load()
	if d.limit.shrink(n, max(minRequest, m)) {
		return nil
	}
	if m >= n {
		return errChunkMinOverLimit(u.Repo.Reference.Host(), m, n)
	}
	return err
}

func ceilDiv(a, b int64) int64 { return (a + b - 1) / b }
