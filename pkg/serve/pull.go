package serve

import (
	"bytes"
	"errors"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/opencontainers/go-digest"

	"github.com/stellaops/mirror/pkg/bundle"
	"github.com/stellaops/mirror/pkg/errdef"
)

// manifest answers GET and HEAD /v2/<name>/manifests/<reference>. The
// manifest is sent as stored, whatever the Accept header says: its bytes are
// its digest.
func (h *handler) manifest(w http.ResponseWriter, r *http.Request, repo, ref string) {
	var dg digest.Digest
	if strings.Contains(ref, ":") {
		var status int
		var code string
		if dg, status, code = parseDigest(ref, codeManifestUnknown); status != 0 {
			writeError(w, status, code, "invalid digest "+quote(ref))
			return
		}
	} else {
		var ok bool
		if bundle.ValidTag(ref) {
			dg, ok = h.src.Resolve(repo, ref)
		}
		if !ok {
			writeError(w, http.StatusNotFound, codeManifestUnknown, "manifest unknown to registry")
			return
		}
	}
	desc, data, err := h.src.Manifest(r.Context(), repo, dg)
	if err != nil {
		h.fail(w, r, err, codeManifestUnknown, "manifest unknown to registry")
		return
	}
	hdr := w.Header()
	hdr.Set("Content-Type", desc.MediaType)
	hdr.Set("Docker-Content-Digest", desc.Digest.String())
	hdr.Set("Etag", `"`+desc.Digest.String()+`"`)
	http.ServeContent(w, r, "", time.Time{}, bytes.NewReader(data))
}

// blob answers GET and HEAD /v2/<name>/blobs/<digest>, with Range and
// conditional requests, streaming from the blob's file with bounded memory.
func (h *handler) blob(w http.ResponseWriter, r *http.Request, repo, arg string) {
	dg, status, code := parseDigest(arg, codeBlobUnknown)
	if status != 0 {
		writeError(w, status, code, "invalid digest "+quote(arg))
		return
	}
	b, err := h.src.Blob(r.Context(), repo, dg)
	if err != nil {
		h.fail(w, r, err, codeBlobUnknown, "blob unknown to registry")
		return
	}
	defer b.Close()
	hdr := w.Header()
	hdr.Set("Content-Type", "application/octet-stream")
	hdr.Set("Docker-Content-Digest", dg.String())
	hdr.Set("Etag", `"`+dg.String()+`"`)
	hdr.Set("Cache-Control", "max-age=31536000, immutable")
	if rng := r.Header.Values("Range"); len(rng) > 1 || len(rng) == 1 && strings.Count(rng[0], ",") >= MaxRanges {
		r = r.Clone(r.Context())
		r.Header.Del("Range")
	}
	http.ServeContent(w, r, "", time.Time{}, io.NewSectionReader(b, 0, b.Size()))
}

// parseDigest reads a digest from a request. A malformed one is 400
// DIGEST_INVALID; a well-formed one of an algorithm this registry holds no
// content for is simply unknown (404 with unknownCode).
func parseDigest(s, unknownCode string) (digest.Digest, int, string) {
	dg, err := digest.Parse(s)
	switch {
	case errors.Is(err, digest.ErrDigestUnsupported):
		return "", http.StatusNotFound, unknownCode
	case err != nil:
		return "", http.StatusBadRequest, codeDigestInvalid
	}
	return dg, 0, ""
}

// fail answers a Source error: not found is the route's 404; anything else
// is the server's failure, logged and answered without detail.
func (h *handler) fail(w http.ResponseWriter, r *http.Request, err error, unknownCode, message string) {
	if errors.Is(err, errdef.ErrNotFound) {
		writeError(w, http.StatusNotFound, unknownCode, message)
		return
	}
	h.log.Error("serving content", "method", r.Method, "path", r.URL.Path, "err", err)
	writeError(w, http.StatusInternalServerError, codeUnknown, "internal error")
}

// quote quotes a request value for an error message, cut to a sane length.
func quote(s string) string {
	const max = 200
	if len(s) > max {
		s = s[:max] + "…"
	}
	return strconv.Quote(s)
}
