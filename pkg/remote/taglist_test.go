package remote_test

import (
	"errors"
	"net/http"
	"net/http/httptest"
	"slices"
	"testing"

	"github.com/stellaops/mirror/pkg/errdef"
	"github.com/stellaops/mirror/pkg/remote"
)

// TestTagListPageNoTagList: a registry, or a proxy in front of it, that
// answers a tag list with 200 and JSON that is no tag list (an error
// document, {}, null). oras-go read it as a page of no tags, so the
// repository's tags read as none; it is now malformed (exit 11). A tag
// list with no tags ("tags": null, or only a name) is still none.
func TestTagListPageNoTagList(t *testing.T) {
	for body, want := range map[string][]string{
		`{"errors":[{"code":"UNKNOWN","message":"upstream unavailable"}]}`: nil,
		`{}`:                                  nil,
		`null`:                                nil,
		`{"name":"stellaops/x","tags":null}`:  {},
		`{"name":"stellaops/x"}`:              {},
		`{"name":"stellaops/x","tags":["a"]}`: {"a"},
	} {
		reg := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "application/json")
			w.Write([]byte(body))
		}))
		var got []string
		err := remote.Classify(repoAt(t, reg).Tags(t.Context(), "", func(page []string) error {
			got = append(got, page...)
			return nil
		}))
		reg.Close()
		switch {
		case want == nil && !errors.Is(err, errdef.ErrMalformed):
			t.Errorf("tag list answered %s: tags %q, err %v; want malformed", body, got, err)
		case want != nil && (err != nil || !slices.Equal(got, want)):
			t.Errorf("tag list answered %s: tags %q, err %v; want %q", body, got, err, want)
		}
	}
}
