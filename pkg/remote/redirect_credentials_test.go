package remote_test

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/stellaops/mirror/internal/testutil"
	"github.com/stellaops/mirror/pkg/remote"
)

// TestRedirectDropsCredentials: a registry that wants Basic credentials
// sends blob GETs to a storage backend on the same host, another port (a
// MinIO beside the registry). net/http keeps the Authorization header on a
// redirect to the same host name; oras-go's auth client (v2.7.0, after
// GHSA-vh4v-2xq2-g5cg) drops it once the chain leaves the first request's
// origin. This holds that: the storage gets no Authorization header (a
// storage URL carries its own grant), and the blob arrives whole.
func TestRedirectDropsCredentials(t *testing.T) {
	data := []byte("a layer behind a storage redirect")
	desc := ocispec.Descriptor{MediaType: ocispec.MediaTypeImageLayer, Digest: digest.FromBytes(data), Size: int64(len(data))}
	var (
		mu   sync.Mutex
		seen []string
	)
	storage := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		seen = append(seen, r.Header.Get("Authorization"))
		mu.Unlock()
		w.Write(data)
	}))
	t.Cleanup(storage.Close)
	if !strings.HasPrefix(storage.URL, "http://127.0.0.1:") {
		t.Fatalf("storage at %s, not on 127.0.0.1", storage.URL)
	}
	host := testutil.RegistryWrapped(t, func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if u, p, ok := r.BasicAuth(); !ok || u != "mirror" || p != "s3cret" {
				w.Header().Set("WWW-Authenticate", `Basic realm="test"`)
				http.Error(w, "unauthorized", http.StatusUnauthorized)
				return
			}
			if r.Method == http.MethodGet && strings.HasSuffix(r.URL.Path, "/blobs/"+desc.Digest.String()) {
				http.Redirect(w, r, storage.URL+"/bucket/blob?X-Amz-Signature=s1gned", http.StatusTemporaryRedirect)
				return
			}
			next.ServeHTTP(w, r)
		})
	})
	if !strings.HasPrefix(host, "127.0.0.1:") {
		t.Fatalf("registry at %s, not on 127.0.0.1", host)
	}
	client, err := remote.New(remote.Options{PlainHTTP: true, ConfigFile: testutil.DockerConfig(t, host, "mirror", "s3cret"), Retries: 1})
	if err != nil {
		t.Fatal(err)
	}
	repo, err := client.Repository(host + "/stellaops/redirected")
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if err := repo.Push(ctx, desc, bytes.NewReader(data)); err != nil {
		t.Fatal(err)
	}
	rc, err := repo.Fetch(ctx, desc)
	if err != nil {
		t.Fatal(err)
	}
	got, err := io.ReadAll(rc)
	rc.Close()
	if err != nil || !bytes.Equal(got, data) {
		t.Fatalf("fetched %q (%v), want %q", got, err, data)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(seen) == 0 {
		t.Fatal("the storage backend was never asked: the redirect was not followed")
	}
	for i, a := range seen {
		if a != "" {
			t.Errorf("storage request %d carried Authorization %q: the registry's credentials left for %s", i+1, a, storage.URL)
		}
	}
}
