package remote_test

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/stellaops/mirror/pkg/remote"
)

// A registry sends a blob to its storage backend with a presigned URL, whose
// query is a signature granting access (S3's X-Amz-Signature, Azure's sig).
// When the storage then fails, the error names the URL: without its query.
func TestPresignedQueryNotPrinted(t *testing.T) {
	const signature = "s1gnature-never-shown"
	dg := digest.FromString("blob")
	storage := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusForbidden)
	}))
	t.Cleanup(storage.Close)
	reg := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.Contains(r.URL.Path, "/blobs/") {
			http.Redirect(w, r, storage.URL+"/bucket/"+dg.Encoded()+"?X-Amz-Credential=AKIA&X-Amz-Signature="+signature, http.StatusTemporaryRedirect)
			return
		}
		w.WriteHeader(http.StatusOK)
	}))
	t.Cleanup(reg.Close)
	c, err := remote.New(remote.Options{PlainHTTP: true, Retries: -1, ConfigFile: t.TempDir() + "/config.json"})
	if err != nil {
		t.Fatal(err)
	}
	repo, err := c.Repository(strings.TrimPrefix(reg.URL, "http://") + "/stellaops/x")
	if err != nil {
		t.Fatal(err)
	}
	_, err = repo.Blobs().Fetch(t.Context(), ocispec.Descriptor{MediaType: "application/octet-stream", Digest: dg, Size: 4})
	if err == nil {
		t.Fatal("fetched")
	}
	if msg := remote.Classify(err).Error(); strings.Contains(msg, signature) {
		t.Errorf("error holds the signature: %s", msg)
	}
}
