package serve

import (
	"encoding/json"
	"net/http"
)

// Error codes of the distribution spec ("Error Codes"), and the two that
// distribution itself adds and clients know: PAGINATION_NUMBER_INVALID for a
// bad n, UNKNOWN for a failure of the server.
const (
	codeBlobUnknown       = "BLOB_UNKNOWN"
	codeDigestInvalid     = "DIGEST_INVALID"
	codeManifestUnknown   = "MANIFEST_UNKNOWN"
	codeNameInvalid       = "NAME_INVALID"
	codeNameUnknown       = "NAME_UNKNOWN"
	codeUnsupported       = "UNSUPPORTED"
	codePaginationInvalid = "PAGINATION_NUMBER_INVALID"
	codeUnknown           = "UNKNOWN"
)

type errorBody struct {
	Errors []errorEntry `json:"errors"`
}

type errorEntry struct {
	Code    string `json:"code"`
	Message string `json:"message"`
	Detail  any    `json:"detail,omitempty"`
}

// writeError answers with the spec's error body. message is for people and
// never names a file of the host.
func writeError(w http.ResponseWriter, status int, code, message string) {
	h := w.Header()
	// Headers set for a success that did not happen must not leak into the
	// error.
	for _, k := range []string{"Docker-Content-Digest", "Etag", "Content-Range", "Cache-Control", "Content-Length"} {
		h.Del(k)
	}
	h.Set("Content-Type", "application/json")
	h.Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(errorBody{Errors: []errorEntry{{Code: code, Message: message}}})
}
