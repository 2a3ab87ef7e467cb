package remote_test

import (
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	"oras.land/oras-go/v2/registry/remote/auth"
	"oras.land/oras-go/v2/registry/remote/credentials"

	"github.com/stellaops/mirror/pkg/errdef"
	"github.com/stellaops/mirror/pkg/remote"
)

// A registry sends a blob to its storage backend with a presigned URL, whose
// query is a signature granting access (S3's X-Amz-Signature, Azure's sig).
// When the storage then fails, the error names the URL: without its query.
func TestPresignedQueryNotPrinted(t *testing.T) {
	const signature = "s1gnature-never-shown"
	dg := digest.FromString("blob")
	err := fetchRedirected(t, dg, "?X-Amz-Credential=AKIA&X-Amz-Signature="+signature, func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusForbidden)
	})
	if msg := remote.Classify(err).Error(); strings.Contains(msg, signature) {
		t.Errorf("error holds the signature: %s", msg)
	}
}

// TestPresignedQueryNotPrintedOnceWrapped: the storage a registry redirects
// to answers, but not as the descriptor says (another Content-Length), or
// fails after the error naming its URL was wrapped (transfer.FetchBytes
// puts "fetch sha256:…" on it before the caller classifies it): the
// signature in the URL's query is still not printed. oras-go names the
// URL in an error of no type there, and a wrapped error's message is
// written when it is wrapped, so dropping the query from the URL after
// that changed nothing: pull printed it.
func TestPresignedQueryNotPrintedOnceWrapped(t *testing.T) {
	const signature = "s1gnature-never-shown"
	dg := digest.FromString("blob")
	for _, status := range []int{http.StatusOK, http.StatusForbidden} {
		t.Run(http.StatusText(status), func(t *testing.T) {
			err := fetchRedirected(t, dg, "?X-Amz-Credential=AKIA&X-Amz-Signature="+signature, func(w http.ResponseWriter, r *http.Request) {
				w.WriteHeader(status)
				w.Write([]byte("blob, and more"))
			})
			err = remote.Classify(fmt.Errorf("fetch %s: %w", dg, err))
			if msg := err.Error(); strings.Contains(msg, signature) || strings.Contains(msg, "AKIA") || !strings.Contains(msg, "/bucket/") {
				t.Errorf("error holds the query, or names no URL: %s", msg)
			}
		})
	}
}

// TestStorageRefusalIsNotTheCredentials: the storage a registry redirects
// a blob GET to refuses it (403: a presigned URL expired because the
// registry's clock and the storage's are apart, or the registry's own
// storage credentials lack the right). The error says the storage refused
// the registry's request, naming it; it told the operator that the
// registry's token service had refused their credentials, which stella
// never sent there. A token service's refusal still says so.
func TestStorageRefusalIsNotTheCredentials(t *testing.T) {
	dg := digest.FromString("blob")
	storage := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/token" {
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		w.Header().Set("Content-Type", "application/xml")
		w.WriteHeader(http.StatusForbidden)
		w.Write([]byte("<Error><Code>AccessDenied</Code><Message>Request has expired</Message></Error>"))
	}))
	t.Cleanup(storage.Close)
	storageHost := strings.TrimPrefix(storage.URL, "http://")
	for _, tt := range []struct {
		name, want, not string
	}{
		{"storage", "its storage at " + storageHost + ", which refused it", "token service"},
		{"token", "its token service at " + storageHost + " refused", "its storage"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			reg := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if tt.name == "token" && r.Header.Get("Authorization") == "" {
					w.Header().Set("WWW-Authenticate", `Bearer realm="`+storage.URL+`/token",service="registry"`)
					w.WriteHeader(http.StatusUnauthorized)
					return
				}
				if strings.Contains(r.URL.Path, "/blobs/") {
					http.Redirect(w, r, storage.URL+"/bucket/"+dg.Encoded()+"?X-Amz-Expires=1200&X-Amz-Signature=s1gned", http.StatusTemporaryRedirect)
					return
				}
				w.WriteHeader(http.StatusOK)
			}))
			t.Cleanup(reg.Close)
			repo := repoAt(t, reg)
			_, err := repo.Blobs().Fetch(t.Context(), ocispec.Descriptor{MediaType: "application/octet-stream", Digest: dg, Size: 4})
			if err == nil {
				t.Fatal("fetched")
			}
			err = remote.Classify(err)
			if msg := err.Error(); !errors.Is(err, errdef.ErrUnavailable) || !strings.Contains(msg, tt.want) || strings.Contains(msg, tt.not) {
				t.Errorf("err = %v, want ErrUnavailable saying %q, not %q", err, tt.want, tt.not)
			}
		})
	}
}

// TestTokenRefusalAtLoginIsTheCredentials: a registry whose challenge names
// no service (Bearer realm="…/token" alone) has login's check, which asks
// for no scope, fetch its token with no query at all: the token service's
// refusal of a wrong password is still the credentials'. It was taken for
// a storage redirect's, and login said the credentials stella sends were
// not at fault.
func TestTokenRefusalAtLoginIsTheCredentials(t *testing.T) {
	var reg *httptest.Server
	reg = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/token" {
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusUnauthorized)
			w.Write([]byte(`{"errors":[{"code":"UNAUTHORIZED","message":"authentication required"}]}`))
			return
		}
		w.Header().Set("WWW-Authenticate", `Bearer realm="`+reg.URL+`/token"`)
		w.WriteHeader(http.StatusUnauthorized)
	}))
	t.Cleanup(reg.Close)
	host := strings.TrimPrefix(reg.URL, "http://")
	c, err := remote.New(remote.Options{PlainHTTP: true, Retries: -1, ConfigFile: t.TempDir() + "/config.json"})
	if err != nil {
		t.Fatal(err)
	}
	r, err := c.Registry(host)
	if err != nil {
		t.Fatal(err)
	}
	err = credentials.Login(t.Context(), credentials.NewMemoryStore(), r, auth.Credential{Username: "mirror", Password: "wrong"})
	if err == nil {
		t.Fatal("logged in")
	}
	err = remote.Classify(err)
	if msg := err.Error(); !errors.Is(err, errdef.ErrUnavailable) || !strings.Contains(msg, "its token service at "+host+" refused them") || strings.Contains(msg, "storage") {
		t.Errorf("err = %v, want the token service's refusal of the credentials", err)
	}
}

// fetchRedirected fetches blob dg (4 bytes) from a registry that redirects
// every blob GET to its storage, served by storage, with query on the
// URL (a presigned one's signature), and returns the fetch's error.
func fetchRedirected(t *testing.T, dg digest.Digest, query string, storage http.HandlerFunc) error {
	t.Helper()
	st := httptest.NewServer(storage)
	t.Cleanup(st.Close)
	reg := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.Contains(r.URL.Path, "/blobs/") {
			http.Redirect(w, r, st.URL+"/bucket/"+dg.Encoded()+query, http.StatusTemporaryRedirect)
			return
		}
		w.WriteHeader(http.StatusOK)
	}))
	t.Cleanup(reg.Close)
	_, err := repoAt(t, reg).Blobs().Fetch(t.Context(), ocispec.Descriptor{MediaType: "application/octet-stream", Digest: dg, Size: 4})
	if err == nil {
		t.Fatal("fetched")
	}
	return err
}
