package remote

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
)

// maxTagListPage is oras-go's bound on a listing page (MaxMetadataBytes'
// default): a page past it is handed on for oras-go to refuse, as before.
const maxTagListPage = 4 << 20

// checkTagListPage refuses a tag list page (GET …/tags/list, 200) that is
// JSON but no tag list: an object with neither "tags" nor "name" (an error
// document a proxy answers with 200, {}, null). oras-go reads such a page
// as a page of no tags, so a repository's tags read as none, and the
// rollback check found nothing held. What is no JSON at all is handed on:
// oras-go fails to decode it (ErrListing, by Classify).
func checkTagListPage(req *http.Request, resp *http.Response) (*http.Response, error) {
	if req.Method != http.MethodGet || resp.StatusCode != http.StatusOK || !strings.HasSuffix(req.URL.Path, "/tags/list") {
		return resp, nil
	}
	data, err := io.ReadAll(io.LimitReader(resp.Body, maxTagListPage+1))
	if err != nil {
		resp.Body.Close()
		return nil, err
	}
	var page map[string]json.RawMessage
	if len(data) <= maxTagListPage && json.Unmarshal(data, &page) == nil && page["tags"] == nil && page["name"] == nil {
		resp.Body.Close()
		return nil, fmt.Errorf("GET %s: the registry answered %d bytes of JSON that are no tag list, with no \"tags\" (an error document, or a broken registry): %w",
			withoutQuery(req.URL), len(data), ErrListing)
	}
	resp.Body = readCloser{io.MultiReader(bytes.NewReader(data), resp.Body), resp.Body}
	return resp, nil
}

// readCloser reads from one reader and closes another.
type readCloser struct {
	io.Reader
	io.Closer
}
