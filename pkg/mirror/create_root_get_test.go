package mirror_test

import (
	"context"
	"net/http"
	"path/filepath"
	"sync"
	"testing"

	"github.com/opencontainers/go-digest"

	"github.com/stellaops/mirror/internal/testutil"
	"github.com/stellaops/mirror/pkg/mirror"
)

// create resolved each image with a HEAD of its pinned manifest and then
// read it with a GET: a round trip more, one after the other, for every
// image. One GET now does both: its answer names the digest, type and
// size, and its body is the root the walk reads.
func TestCreateReadsEachImageRootWithOneGet(t *testing.T) {
	var mu sync.Mutex
	asked := map[string]int{} // method + path
	src := testutil.RegistryWrapped(t, func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			mu.Lock()
			asked[r.Method+" "+r.URL.Path]++
			mu.Unlock()
			next.ServeHTTP(w, r)
		})
	})
	refs := map[string]digest.Digest{
		"app/single": rawRepo{t, src, "app/single"}.image("single", "", nil).Digest,
	}
	multi := rawRepo{t, src, "app/multi"}
	refs["app/multi"] = multi.index(multi.image("amd64", "", nil), multi.image("arm64", "", nil)).Digest
	opts := createOpts(t, releaseOf(t, src, refs), "", filepath.Join(t.TempDir(), "bundle"))
	opts.Version = "2025.10.0"
	res, err := mirror.Create(context.Background(), opts)
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Manifest.Images) != 2 {
		t.Fatalf("bundle holds %d images, want 2", len(res.Manifest.Images))
	}
	mu.Lock()
	defer mu.Unlock()
	for name, d := range refs {
		path := "/v2/" + name + "/manifests/" + d.String()
		if n := asked["HEAD "+path]; n != 0 {
			t.Errorf("%s: %d HEADs of the pinned root, want none", name, n)
		}
		if n := asked["GET "+path]; n != 1 {
			t.Errorf("%s: %d GETs of the pinned root, want 1", name, n)
		}
	}
}
