package mirror_test

import (
	"context"
	"net/http"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/stellaops/mirror/internal/sample"
	"github.com/stellaops/mirror/internal/testutil"
	"github.com/stellaops/mirror/pkg/mirror"
)

// TestTagListRepeated: a registry (hostile, or broken) whose tag list of
// the bundle repository names one tag many times. Every copy was read, a
// round trip each, up to the 100000 tags a list may name: inventory,
// catalog and every import's rollback check sent as many requests for the
// one tag. A tag named again is read once.
func TestTagListRepeated(t *testing.T) {
	s := newSignedSample(t, sample.Spec{}, 0)
	const copies = 500
	var reads atomic.Int64
	var version atomic.Value
	version.Store("")
	edited := tagListsEdited(func(tags []string) []string {
		var repeated []string
		for _, tag := range tags {
			for range copies {
				repeated = append(repeated, tag)
			}
		}
		return repeated
	})
	host := testutil.RegistryWrapped(t, func(next http.Handler) http.Handler {
		listing := edited(next)
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if v := version.Load().(string); v != "" && strings.HasSuffix(r.URL.Path, "/manifests/"+v) {
				reads.Add(1)
			}
			listing.ServeHTTP(w, r)
		})
	})
	ctx := context.Background()
	placed, err := mirror.Import(ctx, importOpts(t, s.dir, host, s.pub))
	if err != nil {
		t.Fatal(err)
	}
	version.Store(s.rel.Spec.Version)
	inv, err := mirror.Inventory(ctx, mirror.InventoryOptions{Registry: host, Output: filepath.Join(t.TempDir(), "inventory.json"), Trust: trustKeys(s.pub), Client: testutil.Client(t)})
	if err != nil || inv.Bundles != 1 {
		t.Fatalf("inventory, its tags listed %d times each: %+v, %v; want the one bundle (root %s)", copies, inv, err, placed.Root)
	}
	if n := reads.Load(); n > 2 {
		t.Errorf("inventory, its tags listed %d times each, read the bundle's tag %s %d times; want once", copies, s.rel.Spec.Version, n)
	}
}
