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

// TestHeldRootVerificationCost: verifying a held bundle root (inventory,
// catalog, the rollback check of import, push and sync) with --key trust
// cost 12 requests: a HEAD of the root its reader had just read by tag,
// and its files referrer's public-key.pem, SHA256SUMS (twice) and
// SHA256SUMS.sig, which only a certificate for --trust-root could use. A
// repository of many roots multiplies it. Now it costs 7: the root, its
// metadata manifest, manifest.json, the referrers listing, the two
// referrer manifests and the envelope.
func TestHeldRootVerificationCost(t *testing.T) {
	ctx := context.Background()
	s := newSignedSample(t, sample.Spec{}, 100)
	var mu sync.Mutex
	var on bool
	var reqs []string
	host := testutil.RegistryWrapped(t, func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			mu.Lock()
			if on {
				reqs = append(reqs, r.Method+" "+r.URL.Path)
			}
			mu.Unlock()
			next.ServeHTTP(w, r)
		})
	})
	if _, err := mirror.Import(ctx, importOpts(t, s.dir, host, s.pub)); err != nil {
		t.Fatal(err)
	}
	inventory := func(trust mirror.TrustOptions) []string {
		mu.Lock()
		on, reqs = true, nil
		mu.Unlock()
		res, err := mirror.Inventory(ctx, mirror.InventoryOptions{Registry: host, Output: filepath.Join(t.TempDir(), "inventory.json"), Trust: trust, Client: testutil.Client(t)})
		if err != nil || res.Bundles != 1 {
			t.Fatalf("inventory: %v %+v", err, res)
		}
		mu.Lock()
		defer mu.Unlock()
		on = false
		return reqs
	}
	plain := inventory(mirror.TrustOptions{})
	verified := inventory(trustKeys(s.pub))
	if extra := len(verified) - len(plain); extra != 7 {
		t.Errorf("verifying the one root cost %d requests, want 7:\n%s", extra, strings.Join(verified, "\n"))
	}
}
