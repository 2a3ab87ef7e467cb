package remote_test

import (
	"bytes"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"

	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	"oras.land/oras-go/v2/content"
	"oras.land/oras-go/v2/registry/remote/errcode"

	"github.com/stellaops/mirror/internal/testutil"
	"github.com/stellaops/mirror/pkg/errdef"
	"github.com/stellaops/mirror/pkg/remote"
)

// A registry's 5xx that names a fault of its own storage (the
// distribution registry's filesystem driver passes the system error on)
// was retried like any 5xx, and told as the registry's bare words. Now it
// is not retried, and says what is at fault and what to do; a 405
// UNSUPPORTED to a push (a pull-through cache) says the registry takes
// none. A bare 500 stays a fault of the moment, retried.
func TestClassifyStorageFaults(t *testing.T) {
	u := &url.URL{Scheme: "http", Host: "registry.internal:5000", Path: "/v2/stellaops/authority/blobs/uploads/"}
	answer := func(method string, status int, code, detail string) error {
		e := &errcode.ErrorResponse{Method: method, URL: u, StatusCode: status}
		if code != "" {
			e.Errors = errcode.Errors{{Code: code, Message: strings.ToLower(code) + " error", Detail: detail}}
		}
		return e
	}
	for _, tt := range []struct {
		name      string
		err       error
		transient bool
		want      string
	}{
		{"full", answer(http.MethodPost, 500, "UNKNOWN", "filesystem: write /var/lib/registry/docker/registry/v2/repositories/stellaops/authority/_uploads/x/startedat: no space left on device"), false,
			"(registry registry.internal:5000: its storage is full: free space on it (df -h, and df -i: it may have run out of files, not bytes), then run the command again, which sends only what is missing)"},
		{"quota", answer(http.MethodPatch, 500, "UNKNOWN", "write /data/x: disk quota exceeded"), false, "its storage quota is used up"},
		{"read-only storage", answer(http.MethodPost, 500, "UNKNOWN", "mkdir /data/x: read-only file system"), false, "its storage is mounted read-only"},
		{"permission", answer(http.MethodPost, 500, "UNKNOWN", "filesystem: mkdir /data/docker/registry/v2/repositories/stellaops/authority/_uploads: permission denied"), false,
			"it may not write its storage there"},
		{"immutable", answer(http.MethodPost, 500, "UNKNOWN", "filesystem: mkdir /data/docker/registry/v2/repositories/stellaops/authority/_uploads: operation not permitted"), false,
			"it may not write its storage there"},
		// A read refused so (a blob file the registry may not read, as
		// after a restore under another user) was told to grant it
		// write access.
		{"permission, a read", answer(http.MethodGet, 500, "UNKNOWN", "filesystem: open /data/docker/registry/v2/blobs/sha256/ab/abcd/data: permission denied"), false,
			"it may not read its storage there (the path above): give the registry's user read access to it"},
		{"507", answer(http.MethodPut, http.StatusInsufficientStorage, "", ""), false, "its storage is full"},
		{"bare 500", answer(http.MethodPost, 500, "", ""), true, "response status code 500"},
		{"pull-through cache", answer(http.MethodPost, 405, "UNSUPPORTED", ""), false,
			"(registry registry.internal:5000 takes no push: it is in read-only mode (a maintenance window) or a pull-through cache (proxy.remoteurl)"},
		{"read-only, a tag", &errcode.ErrorResponse{Method: http.MethodPut, StatusCode: 405,
			URL: &url.URL{Scheme: "http", Host: "registry.internal:5000", Path: "/v2/stellaops/authority/manifests/2025.10.0"}}, false,
			"(registry registry.internal:5000 takes no push: it is in read-only mode"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if got := remote.IsTransient(tt.err); got != tt.transient {
				t.Errorf("IsTransient = %v, want %v", got, tt.transient)
			}
			err := remote.Classify(tt.err)
			if !errors.Is(err, errdef.ErrUnavailable) || !strings.Contains(err.Error(), tt.want) || strings.Contains(err.Error(), "\n") {
				t.Errorf("Classify: %v (unavailable: %v), want one line with %q", err, errors.Is(err, errdef.ErrUnavailable), tt.want)
			}
		})
	}
}

// The registry's storage fills up when a manifest is pushed (the last
// blob took its last bytes): its 500 naming `no space left on device` was
// retried five times, some six seconds, by the retry layer under oras-go,
// before it was told. Now it is tried once, and told with what to do.
func TestManifestPushToAFullRegistry(t *testing.T) {
	var puts atomic.Int64
	host := testutil.RegistryWrapped(t, func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.Method == http.MethodPut && strings.Contains(r.URL.Path, "/manifests/") {
				puts.Add(1)
				w.Header().Set("Content-Type", "application/json")
				w.WriteHeader(http.StatusInternalServerError)
				// distribution v3.1.2's answer, its path shortened
				fmt.Fprint(w, `{"errors":[{"code":"UNKNOWN","message":"unknown error","detail":"filesystem: write /var/lib/registry/docker/registry/v2/blobs/sha256/ab/abcd/.data.tmp: no space left on device"}]}`)
				return
			}
			next.ServeHTTP(w, r)
		})
	})
	client := testutil.ClientWith(t, remote.Options{Retries: 5})
	repo, err := client.Repository(host + "/stellaops/full")
	if err != nil {
		t.Fatal(err)
	}
	manifest := []byte(`{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{"mediaType":"application/vnd.oci.empty.v1+json","digest":"sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a","size":2},"layers":[]}`)
	desc := content.NewDescriptorFromBytes(ocispec.MediaTypeImageManifest, manifest)
	err = remote.Classify(repo.PushReference(t.Context(), desc, bytes.NewReader(manifest), "2025.10.0"))
	if !errors.Is(err, errdef.ErrUnavailable) || !strings.Contains(err.Error(), "(registry "+host+": its storage is full: free space on it") {
		t.Errorf("manifest push to a full registry: %v, want its storage named full", err)
	}
	if n := puts.Load(); n != 1 {
		t.Errorf("the manifest PUT was sent %d times to a full registry, want once", n)
	}
}

// A token service answers one token request 500 with words a storage fault
// has ("permission denied": its LDAP backend's socket, a moment while it
// restarts), then hands out tokens again. It was taken for the registry's
// storage and not retried: the run failed, told `registry HOST: it may not
// write its storage there`, of a registry whose storage is sound. Only an
// answer of the registry's own API (/v2/) names its storage.
func TestTokenServiceFaultIsNoStorageFault(t *testing.T) {
	var asked atomic.Int64
	tokens := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		if asked.Add(1) == 1 {
			w.WriteHeader(http.StatusInternalServerError)
			fmt.Fprint(w, `{"errors":[{"code":"UNKNOWN","message":"ldap: dial unix /run/slapd/ldapi: connect: permission denied"}]}`)
			return
		}
		fmt.Fprint(w, `{"token":"good"}`)
	}))
	t.Cleanup(tokens.Close)
	host := testutil.RegistryWrapped(t, func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.Header.Get("Authorization") != "Bearer good" {
				w.Header().Set("WWW-Authenticate", fmt.Sprintf(`Bearer realm=%q,service="registry",scope="repository:stellaops/app:pull"`, tokens.URL+"/token"))
				w.WriteHeader(http.StatusUnauthorized)
				return
			}
			next.ServeHTTP(w, r)
		})
	})
	client := testutil.ClientWith(t, remote.Options{Retries: 3})
	repo, err := client.Repository(host + "/stellaops/app")
	if err != nil {
		t.Fatal(err)
	}
	desc := ocispec.Descriptor{MediaType: "application/octet-stream", Digest: "sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a", Size: 2}
	if ok, err := repo.Blobs().Exists(t.Context(), desc); err != nil || ok {
		t.Fatalf("exists, behind a token service that failed once: %v, %v (want false, <nil>)", ok, remote.Classify(err))
	}
	if n := asked.Load(); n != 2 {
		t.Errorf("the token service was asked %d times, want twice", n)
	}
	// Told as it stands, no storage is named either.
	err = remote.Classify(&errcode.ErrorResponse{Method: http.MethodGet, StatusCode: 500, URL: &url.URL{Scheme: "https", Host: "auth.internal", Path: "/token"},
		Errors: errcode.Errors{{Code: "UNKNOWN", Message: "permission denied"}}})
	if !remote.IsTransient(err) || strings.Contains(err.Error(), "storage") {
		t.Errorf("a token service's 500: %v, want a fault of the moment, naming no storage", err)
	}
}
