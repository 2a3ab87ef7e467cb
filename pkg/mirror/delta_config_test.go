package mirror_test

import (
	"context"
	"net/http"
	"path/filepath"
	"reflect"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/opencontainers/go-digest"

	"github.com/stellaops/mirror/internal/testutil"
	"github.com/stellaops/mirror/pkg/mirror"
)

// A delta bundle does not carry the configs its base holds; create still
// reads each image's config for manifest.json's platforms, from the source
// registry. When that fetch failed, platformsOf swallowed the error and
// manifest.json (the signed statement) silently listed no platforms: the
// same release and base gave a different bundle depending on whether the
// source answered. create should fail, naming the config.
func TestDeltaConfigFetchFailureIsAnError(t *testing.T) {
	var failConfig atomic.Value
	failConfig.Store(digest.Digest(""))
	host := testutil.RegistryWrapped(t, func(h http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if d := failConfig.Load().(digest.Digest); d != "" && strings.HasSuffix(r.URL.Path, "/blobs/"+d.String()) {
				http.Error(w, "unavailable", http.StatusServiceUnavailable)
				return
			}
			h.ServeHTTP(w, r)
		})
	})
	r := rawRepo{t, host, "app/image"}
	img := r.image("app", "", nil)
	cfg := fetchManifest(t, host, r.name, img).Config
	releaseFile := releaseOf(t, host, map[string]digest.Digest{r.name: img.Digest})

	base := filepath.Join(t.TempDir(), "base")
	opts := createOpts(t, releaseFile, "", base)
	opts.Version = "2025.10.0"
	if _, err := mirror.Create(context.Background(), opts); err != nil {
		t.Fatal(err)
	}
	want := readManifest(t, base).Images[0].Platforms
	priv, pub := testKeys(t, "signer")
	sign(t, base, priv)

	failConfig.Store(cfg.Digest)
	delta := filepath.Join(t.TempDir(), "delta")
	opts = createOpts(t, releaseFile, "", delta)
	opts.Version, opts.Channel = "2025.10.1", ""
	opts.Base, opts.BaseTrust = base, trustKeys(pub)
	opts.Transfer.Backoff = 1
	_, err := mirror.Create(context.Background(), opts)
	if err != nil {
		if !strings.Contains(err.Error(), cfg.Digest.String()) {
			t.Fatalf("create: %v, want an error naming the config %s", err, cfg.Digest)
		}
		return
	}
	if got := readManifest(t, delta).Images[0].Platforms; !reflect.DeepEqual(got, want) {
		t.Fatalf("the source failed to serve config %s and create succeeded with platforms %v (the base says %v)", cfg.Digest, got, want)
	}
}
