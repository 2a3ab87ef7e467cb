package serve

import (
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/stellaops/mirror/pkg/bundle"
)

// MaxRanges bounds the ranges of one blob request that are served as
// such. Each costs a seek, and on a seekable compressed archive a seek
// decodes its frame from the start (up to 4 MiB): thousands of one-byte
// ranges in one request would cost seconds of CPU. A request asking for
// more gets the whole blob (200), as a server may ignore Range.
const MaxRanges = 16

// DefaultMaxPageSize is the most tags or repositories one list response
// holds when Options.MaxPageSize is zero; a larger n gets this many and a
// Link header to the rest, as the spec allows.
const DefaultMaxPageSize = 1000

// Options configure a Handler. The zero value is ready to use.
type Options struct {
	// Logger receives one info record per request and the errors of the
	// server; nil discards them.
	Logger *slog.Logger
	// MaxPageSize bounds the tags or repositories one list response holds;
	// 0 means DefaultMaxPageSize.
	MaxPageSize int
}

// NewHandler returns the read-only registry over src: the pull and
// content-discovery endpoints of the OCI Distribution API, and _catalog.
// Every write (POST, PUT, PATCH, DELETE, and any upload endpoint) gets 405
// UNSUPPORTED.
func NewHandler(src Source, opts Options) http.Handler {
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if opts.MaxPageSize <= 0 {
		opts.MaxPageSize = DefaultMaxPageSize
	}
	return &handler{src: src, log: log, maxPage: opts.MaxPageSize}
}

type handler struct {
	src     Source
	log     *slog.Logger
	maxPage int
}

// route is what a request path names.
type route int

const (
	routeUnknown route = iota
	routeBase
	routeCatalog
	routeManifest
	routeBlob
	routeUpload
	routeTags
	routeReferrers
)

// parseRoute splits a path into route, repository name and the last
// argument (reference or digest). The name is matched from the right: a
// repository may itself have a component called "manifests" or "blobs".
// Nothing here is validated yet.
func parseRoute(path string) (route, string, string) {
	if path == "/v2" || path == "/v2/" {
		return routeBase, "", ""
	}
	rest, ok := strings.CutPrefix(path, "/v2/")
	if !ok {
		return routeUnknown, "", ""
	}
	if rest == "_catalog" {
		return routeCatalog, "", ""
	}
	segs := strings.Split(rest, "/")
	n := len(segs)
	name := func(k int) string { return strings.Join(segs[:n-k], "/") }
	switch {
	case n >= 3 && segs[n-3] == "blobs" && segs[n-2] == "uploads":
		return routeUpload, name(3), segs[n-1]
	case n >= 2 && segs[n-2] == "blobs" && segs[n-1] == "uploads":
		return routeUpload, name(2), ""
	case n >= 2 && segs[n-2] == "tags" && segs[n-1] == "list":
		return routeTags, name(2), ""
	case n >= 2 && segs[n-2] == "manifests":
		return routeManifest, name(2), segs[n-1]
	case n >= 2 && segs[n-2] == "blobs":
		return routeBlob, name(2), segs[n-1]
	case n >= 2 && segs[n-2] == "referrers":
		return routeReferrers, name(2), segs[n-1]
	}
	return routeUnknown, "", ""
}

// ServeHTTP implements http.Handler.
func (h *handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	rec := &recorder{ResponseWriter: w, status: http.StatusOK}
	defer func() {
		if v := recover(); v != nil {
			if v == http.ErrAbortHandler {
				panic(v)
			}
			h.log.Error("panic serving request", "method", r.Method, "path", r.URL.Path, "panic", fmt.Sprint(v))
			if !rec.wrote {
				writeError(rec, http.StatusInternalServerError, codeUnknown, "internal error")
			}
		}
		h.log.Info("request", "method", r.Method, "path", r.URL.Path, "status", rec.status,
			"bytes", rec.bytes, "duration", time.Since(start), "remote", r.RemoteAddr)
	}()
	rec.Header().Set("Docker-Distribution-API-Version", "registry/2.0")
	h.serve(rec, r)
}

func (h *handler) serve(w http.ResponseWriter, r *http.Request) {
	// The decoded path is matched against the spec's grammars below; it
	// never becomes a file name, so an encoded "../" is only an invalid name.
	rt, name, arg := parseRoute(r.URL.Path)
	if rt == routeUnknown {
		writeError(w, http.StatusNotFound, codeUnsupported, "no such endpoint")
		return
	}
	if rt == routeUpload {
		w.Header().Set("Allow", "")
		writeError(w, http.StatusMethodNotAllowed, codeUnsupported, "this registry is read-only: uploads are not supported")
		return
	}
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		writeError(w, http.StatusMethodNotAllowed, codeUnsupported, "this registry is read-only: "+r.Method+" is not supported")
		return
	}
	switch rt {
	case routeBase:
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte("{}\n"))
		return
	case routeCatalog:
		h.catalog(w, r)
		return
	}
	if !bundle.ValidRepository(name) {
		writeError(w, http.StatusBadRequest, codeNameInvalid, "invalid repository name")
		return
	}
	if _, ok := h.src.Tags(name); !ok {
		writeError(w, http.StatusNotFound, codeNameUnknown, "repository name not known to registry")
		return
	}
	switch rt {
	case routeManifest:
		h.manifest(w, r, name, arg)
	case routeBlob:
		h.blob(w, r, name, arg)
	case routeTags:
		h.tags(w, r, name)
	case routeReferrers:
		h.referrers(w, r, name, arg)
	}
}

// recorder notes the status and size of a response for the request log.
type recorder struct {
	http.ResponseWriter
	status int
	bytes  int64
	wrote  bool
}

func (r *recorder) WriteHeader(code int) {
	if !r.wrote {
		r.status, r.wrote = code, true
	}
	r.ResponseWriter.WriteHeader(code)
}

func (r *recorder) Write(p []byte) (int, error) {
	r.wrote = true
	n, err := r.ResponseWriter.Write(p)
	r.bytes += int64(n)
	return n, err
}

// ReadFrom passes io.Copy through to the connection's own ReadFrom, which
// sends a file's bytes with sendfile where it can.
func (r *recorder) ReadFrom(src io.Reader) (int64, error) {
	r.wrote = true
	var n int64
	var err error
	if rf, ok := r.ResponseWriter.(io.ReaderFrom); ok {
		n, err = rf.ReadFrom(src)
	} else {
		n, err = io.Copy(writerOnly{r.ResponseWriter}, src)
	}
	r.bytes += n
	return n, err
}

// writerOnly hides a writer's ReadFrom from io.Copy.
type writerOnly struct{ io.Writer }

// Unwrap lets http.ResponseController reach the connection.
func (r *recorder) Unwrap() http.ResponseWriter { return r.ResponseWriter }
