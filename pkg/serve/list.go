package serve

import (
	"encoding/json"
	"errors"
	"math"
	"net/http"
	"net/url"
	"slices"
	"strconv"

	specs "github.com/opencontainers/image-spec/specs-go"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

// tags answers GET /v2/<name>/tags/list[?n=<int>][&last=<tag>].
func (h *handler) tags(w http.ResponseWriter, r *http.Request, repo string) {
	all, _ := h.src.Tags(repo)
	page, next, err := h.paginate(all, r.URL.Query())
	if err != nil {
		writeError(w, http.StatusBadRequest, codePaginationInvalid, err.Error())
		return
	}
	if next != "" {
		setNextLink(w, "/v2/"+repo+"/tags/list", next)
	}
	writeJSON(w, "application/json", struct {
		Name string   `json:"name"`
		Tags []string `json:"tags"`
	}{repo, page})
}

// catalog answers GET /v2/_catalog[?n=<int>][&last=<name>], distribution's
// list of repositories.
func (h *handler) catalog(w http.ResponseWriter, r *http.Request) {
	page, next, err := h.paginate(h.src.Repositories(), r.URL.Query())
	if err != nil {
		writeError(w, http.StatusBadRequest, codePaginationInvalid, err.Error())
		return
	}
	if next != "" {
		setNextLink(w, "/v2/_catalog", next)
	}
	writeJSON(w, "application/json", struct {
		Repositories []string `json:"repositories"`
	}{page})
}

// paginate cuts the sorted list all as the spec says: the names after last
// (exclusive), at most n of them. A page never holds more than the
// handler's page size: a longer answer (n absent or above it) is cut there
// with a Link to the rest, as the spec allows. It returns the page and,
// when a Link is due, its query (n, last).
func (h *handler) paginate(all []string, q url.Values) ([]string, string, error) {
	limit := math.MaxInt
	if s, ok := q["n"]; ok {
		n, err := strconv.ParseInt(s[0], 10, 64)
		switch {
		case errors.Is(err, strconv.ErrRange) && n > 0:
			// An absurd n is only a big one: clamp it below.
		case err != nil || n < 0:
			return nil, "", errors.New("n must be a non-negative integer")
		}
		limit = int(min(n, int64(math.MaxInt32)))
	}
	start := 0
	if last := q.Get("last"); last != "" {
		i, found := slices.BinarySearch(all, last)
		if found {
			i++
		}
		start = i
	}
	rest := all[start:]
	if limit == 0 {
		return []string{}, "", nil
	}
	pageSize := min(limit, h.maxPage)
	if len(rest) <= pageSize {
		if rest == nil {
			rest = []string{}
		}
		return rest, "", nil
	}
	page := rest[:pageSize]
	next := url.Values{"n": {strconv.Itoa(pageSize)}, "last": {page[len(page)-1]}}
	return page, next.Encode(), nil
}

// setNextLink sets the RFC 5988 Link header to the next page.
func setNextLink(w http.ResponseWriter, path, query string) {
	w.Header().Set("Link", "<"+path+"?"+query+`>; rel="next"`)
}

// referrers answers GET /v2/<name>/referrers/<digest>[?artifactType=<type>].
// An unknown subject has an empty list, never a 404.
func (h *handler) referrers(w http.ResponseWriter, r *http.Request, repo, arg string) {
	dg, status, _ := parseDigest(arg, "")
	if status == http.StatusBadRequest {
		writeError(w, status, codeDigestInvalid, "invalid digest "+quote(arg))
		return
	}
	list := []ocispec.Descriptor{}
	at, filter := r.URL.Query()["artifactType"]
	for _, d := range h.src.Referrers(repo, dg) {
		if !filter || d.ArtifactType == at[0] {
			list = append(list, d)
		}
	}
	if filter {
		w.Header().Set("OCI-Filters-Applied", "artifactType")
	}
	writeJSON(w, ocispec.MediaTypeImageIndex, ocispec.Index{
		Versioned: specs.Versioned{SchemaVersion: 2},
		MediaType: ocispec.MediaTypeImageIndex,
		Manifests: list,
	})
}

func writeJSON(w http.ResponseWriter, contentType string, v any) {
	data, err := json.Marshal(v)
	if err != nil {
		writeError(w, http.StatusInternalServerError, codeUnknown, "internal error")
		return
	}
	w.Header().Set("Content-Type", contentType)
	w.Header().Set("Content-Length", strconv.Itoa(len(data)))
	_, _ = w.Write(data)
}
