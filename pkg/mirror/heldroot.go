package mirror

import (
	"context"
	"io"
	"sync"

	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	"oras.land/oras-go/v2/content"
)

// heldRoot is an image's root manifest already asked for: the GET that
// resolved its reference, its body not yet read. It serves that body to
// the first fetch of the root's digest, and every other fetch from src, so
// that resolving an image and reading its root cost one round trip, not a
// HEAD and then a GET. The body is still read through the caller's checks
// (the create-wide manifest budget asked first, the digest verified).
type heldRoot struct {
	desc ocispec.Descriptor
	src  content.Fetcher

	mu   sync.Mutex
	body io.ReadCloser // nil once served or closed
}

func (h *heldRoot) Fetch(ctx context.Context, desc ocispec.Descriptor) (io.ReadCloser, error) {
	h.mu.Lock()
	body := h.body
	if desc.Digest == h.desc.Digest && desc.Size == h.desc.Size {
		h.body = nil
	} else {
		body = nil
	}
	h.mu.Unlock()
	if body != nil {
		return body, nil
	}
	return h.src.Fetch(ctx, desc)
}

// Close closes the body if no fetch took it (another image of the
// release had the same root, and the budget served its bytes).
func (h *heldRoot) Close() {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.body != nil {
		_ = h.body.Close()
		h.body = nil
	}
}
