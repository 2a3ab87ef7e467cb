package mirror_test

import (
	"context"
	"errors"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/opencontainers/go-digest"

	"github.com/stellaops/mirror/internal/testutil"
	"github.com/stellaops/mirror/pkg/errdef"
	"github.com/stellaops/mirror/pkg/mirror"
)

// TestCreateManifestGoneFromSource: an image manifest that the source
// registry answers 404 for (deleted after its index was pushed) fails
// create naming the image as the release gives it, its line, and the
// manifest once, as a manifest: "image HOST/REPO:TAG (FILE:LINE): manifest
// sha256:X: not found", exit 1 (ErrNotFound), as sync and pull say it
// (TestSyncManifestGoneFromSource). It said "fetch sha256:X: not found".
func TestCreateManifestGoneFromSource(t *testing.T) {
	var gone atomic.Pointer[digest.Digest]
	src := testutil.RegistryWrapped(t, func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if dg := gone.Load(); dg != nil && strings.HasSuffix(r.URL.Path, "/manifests/"+dg.String()) {
				w.Header().Set("Content-Type", "application/json")
				w.WriteHeader(http.StatusNotFound)
				_, _ = w.Write([]byte(`{"errors":[{"code":"MANIFEST_UNKNOWN","message":"manifest unknown","detail":"` + dg.String() + `"}]}`))
				return
			}
			next.ServeHTTP(w, r)
		})
	})
	r := rawRepo{t, src, "app/gone"}
	idx, _, arm := r.twoPlatforms()
	r.tag(idx, "1.0")
	gone.Store(&arm.Digest)
	for _, ref := range []string{src + "/" + r.name + ":1.0", src + "/" + r.name + "@" + idx.Digest.String()} {
		release := filepath.Join(t.TempDir(), "release.txt")
		if err := os.WriteFile(release, []byte(ref+"\n"), 0o644); err != nil {
			t.Fatal(err)
		}
		opts := createOpts(t, release, "", filepath.Join(t.TempDir(), "bundle"))
		opts.Version, opts.AllowTags = "2025.10.0", true
		_, err := mirror.Create(context.Background(), opts)
		t.Logf("create %s: %v", ref, err)
		want := "image " + ref + " (" + release + ":1): manifest " + arm.Digest.String() + ": not found"
		if !errors.Is(err, errdef.ErrNotFound) || errors.Is(err, errdef.ErrDigestMismatch) ||
			!strings.Contains(err.Error(), want) || strings.Count(err.Error(), arm.Digest.String()) != 1 {
			t.Errorf("create %s: err = %v, want ErrNotFound saying %q, naming the manifest once", ref, err, want)
		}
	}
}
