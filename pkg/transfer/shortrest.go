package transfer

import (
	"bytes"
	"fmt"
	"io"

	"github.com/stellaops/mirror/pkg/errdef"
)

// restUnderMin is how send ends a PATCH that broke off (or whose answer
// was lost) with the registry holding part of it, when what is left of it
// is under the registry's smallest chunk (OCI-Chunk-Min-Length): a
// registry that enforces its minimum would refuse that rest sent alone,
// however often. The caller sends it with the bytes that follow it, in a
// request of at least the minimum. It is no failure of the upload; should
// it ever reach a user, the registry is unavailable for this upload.
type restUnderMin struct {
	host     string
	held     int64 // bytes of the blob the registry holds
	rest     int64 // bytes of the request it does not
	chunkMin int64
}

func (e *restUnderMin) Error() string {
	return fmt.Sprintf("registry %s holds the upload up to byte %d, and the %d bytes left of the request are under its OCI-Chunk-Min-Length (%d)", e.host, e.held, e.rest, e.chunkMin)
}

func (e *restUnderMin) Unwrap() error { return errdef.ErrUnavailable }

// spliced is the content of one or more requests held in two buffers:
// bytes carried over from a stream's chunk the registry took only part of
// (head: fewer than its smallest chunk), then the next chunk (tail).
// Without a carry, head is empty and every request body is a plain
// memChunk of the chunk's buffer.
type spliced struct {
	head, tail []byte
}

func (s spliced) Len() int64 { return int64(len(s.head) + len(s.tail)) }

func (s spliced) From(k int64) *requestBody {
	h := int64(len(s.head))
	if k >= h {
		return &requestBody{r: bytes.NewReader(s.tail[k-h:])}
	}
	return &requestBody{r: io.MultiReader(bytes.NewReader(s.head[k:]), bytes.NewReader(s.tail))}
}

// part is the body of a request carrying the n bytes from p on.
func (s spliced) part(p, n int64) chunkBody {
	h := int64(len(s.head))
	switch {
	case p >= h:
		return memChunk(s.tail[p-h : p-h+n])
	case p+n <= h:
		return memChunk(s.head[p : p+n])
	}
	return spliced{head: s.head[p:], tail: s.tail[:p+n-h]}
}

// rest copies the bytes from p on, to carry into the next chunk: the
// buffers they are in go back to the pool.
func (s spliced) rest(p int64) []byte {
	h := int64(len(s.head))
	if p >= h {
		return bytes.Clone(s.tail[p-h:])
	}
	return append(bytes.Clone(s.head[p:]), s.tail...)
}
