package transfer

import (
	"context"
	"errors"
	"net/url"
)

// maxProbeChunk bounds the PATCH ProbeChunks sends: a registry's
// OCI-Chunk-Min-Length is its word alone, and a probe holds the chunk in
// memory.
const maxProbeChunk = 8 << 20

// probeChunk is the size of ProbeChunks' PATCH where the registry sets no
// smallest chunk.
const probeChunk = 16

// ChunkProbe is what ProbeChunks learnt of how a registry takes blobs.
type ChunkProbe struct {
	// Chunked reports whether the registry took a chunk (PATCH). False
	// with Refused set: it takes a blob only in one PUT.
	Chunked bool
	// Refused is the status the registry refused the PATCH with, when it
	// refuses chunks: 405 or 501, or 404 or 400 to the PATCHes of two
	// sessions (one alone may be a fault of the moment); 0 otherwise.
	Refused int
	// ChunkMin is the OCI-Chunk-Min-Length the POST answered (0: none).
	ChunkMin int64
	// Untried reports that no PATCH was sent, because ChunkMin asks for a
	// chunk larger than a probe sends; Chunked is then false.
	Untried bool
	// Location is the upload session the probe opened and then cancelled.
	Location *url.URL
}

// ProbeChunks asks the registry, the way Push and PushAt would, whether it
// takes blobs in chunks: it opens an upload session (POST), sends one
// small PATCH (at least the OCI-Chunk-Min-Length the POST answered, up to
// 8 MiB), and cancels the session (DELETE), completing no blob. A refusal
// of the PATCH as such (refusesChunks) is a finding, not an error, once
// known as an upload would know it (learnRefusal: a 404 or 400 is asked
// again, in a fresh session); what ProbeChunks learns goes into the
// Uploader's Dialect as an upload's would.
func (u *Uploader) ProbeChunks(ctx context.Context) (ChunkProbe, error) {
	var p ChunkProbe
	loc, err := u.start(ctx)
	if err != nil {
		return p, err
	}
	p.Location = loc
	defer func() { u.cancel(loc) }()
	p.ChunkMin = u.dialect().chunkMin.Load()
	n := max(p.ChunkMin, probeChunk)
	if n > maxProbeChunk {
		p.Untried = true
		return p, nil
	}
	body := make(memChunk, n)
	copy(body, "stella mirror doctor probe\n")
	// send answers the session as it stands, done or failed: one it
	// started over in, if it did, is the one to cancel.
	sent := func() error {
		next, err := u.send(ctx, loc, body, 0, false, "")
		if next != nil {
			loc = next
		}
		return err
	}
	err = sent()
	status, refused := refusesChunks(err)
	if refused && !u.learnRefusal(status, false) {
		// A 404 or 400 may be a fault of the moment: it is a finding
		// only if a PATCH in a fresh session is refused so too.
		fresh, serr := u.startOver(ctx, loc, true)
		if serr != nil {
			return p, serr
		}
		loc, p.Location = fresh, fresh
		err = sent()
		status, refused = refusesChunks(err)
		refused = refused && u.learnRefusal(status, true)
	}
	if refused {
		p.Refused = status
		return p, nil
	}
	if errors.As(err, new(*restUnderMin)) {
		err = nil // the PATCH broke off, the registry holding part of it
	}
	if err != nil {
		return p, err
	}
	p.Chunked = true
	return p, nil
}
