package mirror_test

import (
	"context"
	"fmt"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stellaops/mirror/internal/sample"
	"github.com/stellaops/mirror/internal/testutil"
	"github.com/stellaops/mirror/pkg/bundle"
	"github.com/stellaops/mirror/pkg/mirror"
)

// TestBundleTagsReadAtOnce: every import, push and sync reads each tag of
// the bundle repository for its generation check (and inventory and
// catalog for their lists): a repository of a few hundred releases is as
// many round trips, which were made one after another. They are read
// --concurrency at a time: three tags are held at the registry until all
// three are asked at once, and the inventory still lists every root.
func TestBundleTagsReadAtOnce(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	a := newSignedSample(t, sample.Spec{}, 100)
	barrier := testutil.NewBarrier(3)
	target := testutil.RegistryWrapped(t, barrier.Wrap)
	if _, err := mirror.Import(ctx, importOpts(t, a.dir, target, a.pub)); err != nil {
		t.Fatal(err)
	}
	repo := target + "/" + bundle.DefaultBundleRepository
	for i := range 3 {
		forgeReplayedRoot(t, repo, "2025.10.0", fmt.Sprintf("2099.%d.0", i+1), fmt.Sprint(4000000000+i))
	}
	barrier.Hold(func(r *http.Request) bool {
		return r.Method == http.MethodGet && strings.Contains(r.URL.Path, "/"+bundle.DefaultBundleRepository+"/manifests/2099.")
	})
	out := make(chan error, 1)
	var res *mirror.InventoryResult
	go func() {
		var err error
		res, err = mirror.Inventory(ctx, mirror.InventoryOptions{Registry: target, Output: filepath.Join(t.TempDir(), "inventory.json"), Client: testutil.Client(t)})
		out <- err
	}()
	if err := barrier.Wait(ctx); err != nil {
		t.Errorf("tags of the bundle repository: %v", err)
	}
	if err := <-out; err != nil {
		t.Fatal(err)
	}
	if res.Bundles != 4 {
		t.Errorf("inventory lists %d bundles, want 4 (unverified, listed as such)", res.Bundles)
	}
}
