package mirror_test

import (
	"context"
	"errors"
	"net/http"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/stellaops/mirror/internal/sample"
	"github.com/stellaops/mirror/internal/testutil"
	"github.com/stellaops/mirror/pkg/errdef"
	"github.com/stellaops/mirror/pkg/mirror"
)

// TestCreateRefusesOverSumsEarly: a release whose images name more blobs
// than a bundle's SHA256SUMS can list (4 MiB, some 29000 files) was
// refused only once every image's manifests were fetched and held: 2500
// images of 100 layers took create to 181 MiB before it said "its
// SHA256SUMS would be over …". It is now refused once the manifests
// fetched name that many files, the rest not fetched (found by review).
func TestCreateRefusesOverSumsEarly(t *testing.T) {
	var manifests atomic.Int64
	host := testutil.RegistryWrapped(t, func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.Method == http.MethodGet && strings.Contains(r.URL.Path, "/manifests/") {
				manifests.Add(1)
			}
			next.ServeHTTP(w, r)
		})
	})
	_, releaseFile, advisories := testutil.PushSample(t, host, sample.Spec{Images: 24, Layers: 8})
	opts := createOpts(t, releaseFile, advisories, filepath.Join(t.TempDir(), "bundle"))
	opts.Transfer.Concurrency = 1
	if _, err := mirror.Create(context.Background(), opts); err != nil {
		t.Fatal(err)
	}
	all := manifests.Swap(0)
	mirror.SetMaxChecksums(t, 60*144) // some 60 blob files
	opts.Output = filepath.Join(t.TempDir(), "bundle")
	_, err := mirror.Create(context.Background(), opts)
	if !errors.Is(err, errdef.ErrUsage) || !strings.Contains(err.Error(), "SHA256SUMS would be over") {
		t.Fatalf("create: %v; want the release refused as too large for SHA256SUMS", err)
	}
	if got := manifests.Load(); got > all/2 {
		t.Errorf("create fetched %d manifests of the release's %d before refusing it as too large for SHA256SUMS", got, all)
	}
}
