package remote_test

import (
	"errors"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"

	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

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

// TestReferrersPageNoIndex: a registry, or a proxy in front of it, that
// answers the referrers API under an image index's media type with JSON
// that is no image index (an error document, {}, null). oras-go read it
// as an index of no referrers, so a bundle root's signature read as none;
// it is now malformed (exit 11). An index of no referrers is still none.
func TestReferrersPageNoIndex(t *testing.T) {
	subject := ocispec.Descriptor{MediaType: ocispec.MediaTypeImageIndex, Digest: digest.FromString("root"), Size: 4}
	for body, malformed := range map[string]bool{
		`{"errors":[{"code":"UNKNOWN","message":"upstream unavailable"}]}`: true,
		`{}`:   true,
		`null`: true,
		`{"schemaVersion":2,"mediaType":"application/vnd.oci.image.index.v1+json","manifests":[]}`: false,
		`{"schemaVersion":2,"manifests":null}`:                                                     false,
	} {
		reg := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", ocispec.MediaTypeImageIndex)
			w.Write([]byte(body))
		}))
		var got []ocispec.Descriptor
		err := remote.Classify(repoAt(t, reg).Referrers(t.Context(), subject, "", func(page []ocispec.Descriptor) error {
			got = append(got, page...)
			return nil
		}))
		reg.Close()
		if malformed && !errors.Is(err, errdef.ErrMalformed) || !malformed && (err != nil || len(got) != 0) {
			t.Errorf("referrers answered %s: %v, %v; want malformed %v", body, got, err, malformed)
		}
	}
}

// TestFallbackTagNoManifest: a registry without the referrers API, or a
// proxy in front of it, that answers a referrers fallback tag
// (sha256-<hex>) with what is no manifest (a proxy's page, an error
// document). oras-go read it as no referrers; it is now malformed (exit
// 11). An index of no referrers is still none.
func TestFallbackTagNoManifest(t *testing.T) {
	subject := ocispec.Descriptor{MediaType: ocispec.MediaTypeImageIndex, Digest: digest.FromString("root"), Size: 4}
	for _, tc := range []struct {
		contentType, body string
		malformed         bool
	}{
		{"text/html", `<html><body>502 Bad Gateway</body></html>`, true},
		{ocispec.MediaTypeImageIndex, `{"errors":[{"code":"UNKNOWN","message":"upstream unavailable"}]}`, true},
		{"application/json", `{}`, true},
		{ocispec.MediaTypeImageIndex, `{"schemaVersion":2,"mediaType":"application/vnd.oci.image.index.v1+json","manifests":[]}`, false},
	} {
		reg := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if !strings.HasSuffix(r.URL.Path, "/manifests/sha256-"+subject.Digest.Encoded()) {
				http.NotFound(w, r)
				return
			}
			w.Header().Set("Content-Type", tc.contentType)
			w.Write([]byte(tc.body))
		}))
		var got []ocispec.Descriptor
		err := remote.Classify(repoAt(t, reg).Referrers(t.Context(), subject, "", func(page []ocispec.Descriptor) error {
			got = append(got, page...)
			return nil
		}))
		reg.Close()
		if tc.malformed && !errors.Is(err, errdef.ErrMalformed) || !tc.malformed && (err != nil || len(got) != 0) {
			t.Errorf("fallback tag answered %s %s: %v, %v; want malformed %v", tc.contentType, tc.body, got, err, tc.malformed)
		}
	}
}

// TestReferrersPageMediaTypeParameters: a registry that answers the
// referrers API with an image index under its media type with parameters
// (as HTTP allows). oras-go read it as no referrers API and fell back to
// the sha256-<hex> tag, so referrers pushed by the API read as none; they
// are now listed.
func TestReferrersPageMediaTypeParameters(t *testing.T) {
	subject := ocispec.Descriptor{MediaType: ocispec.MediaTypeImageIndex, Digest: digest.FromString("root"), Size: 4}
	listed := digest.FromString("signature")
	for _, ct := range []string{ocispec.MediaTypeImageIndex + "; charset=utf-8", "Application/VND.OCI.Image.Index.v1+json;charset=UTF-8"} {
		reg := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if !strings.Contains(r.URL.Path, "/referrers/") {
				http.NotFound(w, r)
				return
			}
			w.Header().Set("Content-Type", ct)
			w.Write([]byte(`{"schemaVersion":2,"mediaType":"application/vnd.oci.image.index.v1+json","manifests":[{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"` + listed.String() + `","size":10}]}`))
		}))
		var got []ocispec.Descriptor
		err := repoAt(t, reg).Referrers(t.Context(), subject, "", func(page []ocispec.Descriptor) error {
			got = append(got, page...)
			return nil
		})
		reg.Close()
		if err != nil || len(got) != 1 || got[0].Digest != listed {
			t.Errorf("referrers answered under %q: %v, %v; want %s", ct, got, err, listed)
		}
	}
}
