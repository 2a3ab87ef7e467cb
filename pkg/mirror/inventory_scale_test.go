package mirror_test

import (
	"context"
	"net/http"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/stellaops/mirror/internal/sample"
	"github.com/stellaops/mirror/internal/testutil"
	"github.com/stellaops/mirror/pkg/mirror"
)

// Inventory read the graph of every bundle in the repository afresh: a
// registry holding G releases of the same N images fetched G×N image
// manifests where N (and G roots) hold all there is to know. Each manifest
// is read once.
func TestInventoryReadsEachManifestOnce(t *testing.T) {
	ctx := context.Background()
	source := testutil.Registry(t)
	_, releaseFile, advisories := testutil.PushSample(t, source, sample.Spec{BaseLayerSize: 1 << 10, LayerSize: 256})
	var mu sync.Mutex
	gets := map[string]int{}
	target := testutil.RegistryWrapped(t, func(h http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.Method == http.MethodGet && strings.Contains(r.URL.Path, "/manifests/sha256:") {
				mu.Lock()
				gets[r.URL.Path]++
				mu.Unlock()
			}
			h.ServeHTTP(w, r)
		})
	})
	const releases = 3
	for g := range releases {
		dir := filepath.Join(t.TempDir(), "bundle")
		opts := createOpts(t, releaseFile, advisories, dir)
		opts.Generation = int64(g + 1)
		opts.Version = "2025.10." + string(rune('0'+g))
		if _, err := mirror.Create(ctx, opts); err != nil {
			t.Fatal(err)
		}
		if _, err := mirror.Push(ctx, mirror.PushOptions{Now: testNow, Source: dir, Reference: target + "/stellaops/mirror-bundle", Client: testutil.Client(t), Transfer: transferOpts()}); err != nil {
			t.Fatal(err)
		}
	}
	mu.Lock()
	clear(gets)
	mu.Unlock()
	res, err := mirror.Inventory(ctx, mirror.InventoryOptions{Registry: target, Output: filepath.Join(t.TempDir(), "inventory.json"), Now: testNow, Client: testutil.Client(t)})
	if err != nil {
		t.Fatal(err)
	}
	if res.Bundles != releases {
		t.Fatalf("inventory lists %d bundles, want %d", res.Bundles, releases)
	}
	if len(gets) == 0 {
		t.Fatal("inventory fetched no manifest by digest")
	}
	for path, n := range gets {
		if n > 1 {
			t.Errorf("inventory fetched %s %d times", path, n)
		}
	}
}
