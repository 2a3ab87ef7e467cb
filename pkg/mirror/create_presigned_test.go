package mirror_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/stellaops/mirror/internal/sample"
	"github.com/stellaops/mirror/internal/testutil"
	"github.com/stellaops/mirror/pkg/errdef"
	"github.com/stellaops/mirror/pkg/mirror"
)

// TestCreateStorageSignatureNotPrinted: a source registry sends its blob
// GETs to storage with a presigned URL, whose query is a signature
// granting access (S3's X-Amz-Signature); the storage then fails. create's
// error names the image, the blob and the storage URL without its query,
// as pull's and sync's do: the image's name was put on the error before
// the query was dropped, and the signature was printed.
func TestCreateStorageSignatureNotPrinted(t *testing.T) {
	t.Parallel()
	const signature = "s1gnature-never-shown"
	storage := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "storage refused", http.StatusForbidden)
	}))
	t.Cleanup(storage.Close)
	var redirect atomic.Bool
	host := testutil.RegistryWrapped(t, func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if redirect.Load() && r.Method == http.MethodGet && strings.Contains(r.URL.Path, "/blobs/sha256:") {
				http.Redirect(w, r, storage.URL+"/bucket/blob?X-Amz-Credential=AKIA&X-Amz-Signature="+signature, http.StatusTemporaryRedirect)
				return
			}
			next.ServeHTTP(w, r)
		})
	})
	_, releaseFile, advisories := testutil.PushSample(t, host, sample.Spec{})
	redirect.Store(true)
	for _, name := range []string{"bundle", "bundle.tar"} {
		t.Run(name, func(t *testing.T) {
			out := filepath.Join(t.TempDir(), name)
			_, err := mirror.Create(context.Background(), createOpts(t, releaseFile, advisories, out))
			if !errors.Is(err, errdef.ErrUnavailable) {
				t.Fatalf("err = %v, want ErrUnavailable", err)
			}
			if msg := err.Error(); strings.Contains(msg, signature) || !strings.Contains(msg, "/bucket/blob") {
				t.Errorf("error holds the signature, or no storage URL: %s", msg)
			}
			if _, err := os.Lstat(out); !errors.Is(err, os.ErrNotExist) {
				t.Errorf("%s written: %v", name, err)
			}
		})
	}
}
