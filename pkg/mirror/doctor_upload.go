package mirror

import (
	"context"
	"fmt"

	"github.com/stellaops/mirror/pkg/remote"
)

// chunks asks whether the registry takes blobs in chunks, as import sends
// every blob larger than one request, and returns DoctorMode.Uploads. The
// probe's session is cancelled, so no blob is left; a registry that
// refuses the cancel keeps a small upload state until it expires it.
func (p *probe) chunks(ctx context.Context) string {
	u, err := p.tgt.uploader(p.repo)
	if err != nil {
		p.add(CheckChunked, CheckWarn, "%v", err)
		return ""
	}
	res, err := u.ProbeChunks(ctx)
	switch {
	case err != nil:
		p.add(CheckChunked, CheckWarn, "an upload session with one small PATCH in %s: %v; large blobs may fail the same way", p.repo, remote.Classify(err))
		return ""
	case res.Refused != 0:
		p.add(CheckChunked, CheckWarn, "the registry refuses chunked uploads (PATCH answered %d): blobs from a bundle directory or a stella-packed archive go in one PUT each; "+
			"a compressed tar from another tool with a blob over one chunk cannot be imported here (unpack it, or repack it with stella mirror pack)", res.Refused)
		return UploadsWhole
	case res.Untried:
		p.add(CheckChunked, CheckWarn, "the registry wants upload chunks of at least %d bytes (OCI-Chunk-Min-Length), more than the probe sends; chunked uploads were not tried", res.ChunkMin)
		return uploadsMin(res.ChunkMin)
	case res.ChunkMin > 0:
		p.add(CheckChunked, CheckPass, "the registry takes blobs in chunks (PATCH), of at least %d bytes each (OCI-Chunk-Min-Length)", res.ChunkMin)
		return uploadsMin(res.ChunkMin)
	}
	p.add(CheckChunked, CheckPass, "the registry takes blobs in chunks (PATCH); the probe's upload session was cancelled")
	return UploadsChunked
}

// uploadsMin is DoctorMode.Uploads for a registry that sets a smallest
// chunk.
func uploadsMin(n int64) string {
	return fmt.Sprintf("%s, at least %d bytes a chunk", UploadsChunked, n)
}
