package remote

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"mime"
	"net/http"
	"regexp"
	"strings"

	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

// maxListingPage is oras-go's bound on a listing page (MaxMetadataBytes'
// default): a page past it is handed on for oras-go to refuse, as before.
const maxListingPage = 4 << 20

// checkListingPage refuses a page of a listing (200) that is JSON but not
// the listing's: a tag list page (GET …/tags/list) with neither "tags" nor
// "name", or a referrers page (GET …/referrers/…) under an image index's
// media type with neither "manifests" nor "schemaVersion", or a
// referrers fallback tag (GET …/manifests/sha256-<hex>) answered with no
// JSON or JSON without "schemaVersion": an error document a proxy answers
// with 200, {}, null, a proxy's page. oras-go reads such a page as one of
// no tags or referrers, so a repository's tags read as none, a root's
// signatures as none, and the rollback check passed over what is held.
// A listing page that is no JSON at all is handed on: oras-go fails to
// decode it (ErrListing, by Classify).
func checkListingPage(req *http.Request, resp *http.Response) (*http.Response, error) {
	if req.Method != http.MethodGet || resp.StatusCode != http.StatusOK {
		return resp, nil
	}
	if strings.Contains(req.URL.Path, "/referrers/") {
		// An image index under its media type with parameters ("; charset=utf-8"),
		// as HTTP allows, is the API's answer: oras-go takes only the
		// bare media type as one, and reads the rest as no referrers API,
		// falling back to the sha256-<hex> tag, which a root whose
		// signature was pushed by the API does not have.
		if mt, _, err := mime.ParseMediaType(resp.Header.Get("Content-Type")); err == nil && mt == ocispec.MediaTypeImageIndex {
			resp.Header.Set("Content-Type", ocispec.MediaTypeImageIndex)
		}
	}
	var what string
	var keys [2]string
	// The referrers fallback tag's index is read as a listing: oras-go
	// reads an answer that is no image index (a page, whatever its media
	// type) as no referrers, as it reads the tag not there.
	fallback := fallbackTagPath.MatchString(req.URL.Path)
	switch {
	case strings.HasSuffix(req.URL.Path, "/tags/list"):
		what, keys = "tag list", [2]string{"tags", "name"}
	case strings.Contains(req.URL.Path, "/referrers/") && resp.Header.Get("Content-Type") == ocispec.MediaTypeImageIndex:
		what, keys = "image index of referrers", [2]string{"manifests", "schemaVersion"}
	case fallback:
		what, keys = "manifest (a referrers fallback tag)", [2]string{"schemaVersion", "schemaVersion"}
	default:
		return resp, nil
	}
	data, err := io.ReadAll(io.LimitReader(resp.Body, maxListingPage+1))
	if err != nil {
		resp.Body.Close()
		return nil, err
	}
	var page map[string]json.RawMessage
	notJSON := json.Unmarshal(data, &page) != nil
	if len(data) <= maxListingPage && (fallback && notJSON || !notJSON && page[keys[0]] == nil && page[keys[1]] == nil) {
		resp.Body.Close()
		return nil, fmt.Errorf("GET %s: the registry answered %d bytes that are no %s, with no %q (an error document or a proxy's page, or a broken registry): %w",
			withoutQuery(req.URL), len(data), what, keys[0], ErrListing)
	}
	resp.Body = readCloser{io.MultiReader(bytes.NewReader(data), resp.Body), resp.Body}
	return resp, nil
}

// fallbackTagPath matches a manifest request for a referrers fallback tag
// (sha256-<hex>, no cosign suffix).
var fallbackTagPath = regexp.MustCompile(`/manifests/sha256-[0-9a-f]{64}$`)

// readCloser reads from one reader and closes another.
type readCloser struct {
	io.Reader
	io.Closer
}
