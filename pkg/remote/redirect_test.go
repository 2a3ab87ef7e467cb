package remote_test

import (
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/stellaops/mirror/internal/testutil"
	"github.com/stellaops/mirror/pkg/errdef"
	"github.com/stellaops/mirror/pkg/remote"
)

// A registry reached over HTTPS that redirects a blob to plain HTTP (a
// storage backend, as distribution does with S3) is refused unless
// --plain-http was given: stella never falls back to HTTP by itself. The
// redirect used to be followed, the blob travelling unencrypted.
func TestRedirectToPlainHTTPRefused(t *testing.T) {
	blob := []byte("probe blob")
	dg := digest.FromBytes(blob)
	var plainHits atomic.Int64
	plain := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		plainHits.Add(1)
		w.Write(blob)
	}))
	t.Cleanup(plain.Close)
	tlsSrv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.Contains(r.URL.Path, "/blobs/") {
			http.Redirect(w, r, plain.URL+"/storage/"+dg.Encoded(), http.StatusTemporaryRedirect)
			return
		}
		w.WriteHeader(http.StatusOK)
	}))
	t.Cleanup(tlsSrv.Close)
	ca := testutil.WritePEM(t, t.TempDir(), "ca.pem", tlsSrv.Certificate())
	c, err := remote.New(remote.Options{CAFile: ca, Retries: -1, ConfigFile: t.TempDir() + "/config.json"})
	if err != nil {
		t.Fatal(err)
	}
	host := strings.TrimPrefix(tlsSrv.URL, "https://")
	repo, err := c.Repository(host + "/stellaops/x")
	if err != nil {
		t.Fatal(err)
	}
	rc, err := repo.Blobs().Fetch(t.Context(), ocispec.Descriptor{MediaType: "application/octet-stream", Digest: dg, Size: int64(len(blob))})
	if err == nil {
		io.Copy(io.Discard, rc)
		rc.Close()
		t.Fatal("a redirect from https to http was followed")
	}
	if err = remote.Classify(err); !errors.Is(err, errdef.ErrUnavailable) || !strings.Contains(err.Error(), "plain HTTP") {
		t.Errorf("err = %v, want ErrUnavailable saying it was a redirect to plain HTTP", err)
	}
	if n := plainHits.Load(); n != 0 {
		t.Errorf("the plain HTTP server got %d requests", n)
	}
}
