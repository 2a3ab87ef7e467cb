package mirror

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/stellaops/mirror/internal/testutil"
	"github.com/stellaops/mirror/pkg/errdef"
	"github.com/stellaops/mirror/pkg/remote"
	"github.com/stellaops/mirror/pkg/transfer"
)

// TestPlacementAsksNothingBesideAFailedCheck: the placement beside a
// check (import, push, sync) waits for the host's first request, the
// check's. Where that request fails for good (the registry gone down),
// the check is failing, and the placement asks nothing: it went on at the
// moment the first request failed, its first round of questions (every
// blob's and manifest's, up to --concurrency of each) sent beside the
// check before the check's failure could stop them, 21 requests of a sync
// into a registry down where 3 tell it (givesUp's bound is 24). The check
// here reads on for a while after its first request failed, as one with
// more to read would (until the placement asks, or a second).
func TestPlacementAsksNothingBesideAFailedCheck(t *testing.T) {
	var first atomic.Bool
	var mu sync.Mutex
	var asked []string
	placementAsked := make(chan struct{})
	var once sync.Once
	host := testutil.RegistryWrapped(t, func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if first.CompareAndSwap(false, true) {
				http.Error(w, "down", http.StatusServiceUnavailable) // the check's
				return
			}
			mu.Lock()
			asked = append(asked, r.Method+" "+r.URL.Path)
			mu.Unlock()
			once.Do(func() { close(placementAsked) })
			http.Error(w, "down", http.StatusServiceUnavailable)
		})
	})
	tgt := newTarget(host, testutil.ClientWith(t, remote.Options{Retries: -1}), transfer.Options{})
	desc := ocispec.Descriptor{MediaType: ocispec.MediaTypeImageLayer, Digest: digest.FromString("layer"), Size: 5}
	check, wctx := startCheck(context.Background(), slog.New(slog.DiscardHandler), func(ctx context.Context, _ *slog.Logger) error {
		_, err := tgt.hasBlob(ctx, "stellaops/mirror-bundle", desc)
		select {
		case <-placementAsked:
		case <-time.After(time.Second):
		case <-ctx.Done():
		}
		return err
	})
	check.letGoFirst(wctx, tgt)
	_, perr := tgt.hasBlob(wctx, "stellaops/app", desc)
	err := check.settle(perr)
	if !errors.Is(err, errdef.ErrUnavailable) || !strings.Contains(err.Error(), host+"/v2/stellaops/mirror-bundle/") {
		t.Errorf("placement beside a check whose first request failed: %v, want the check's error (unavailable, of stellaops/mirror-bundle)", err)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(asked) > 0 {
		t.Errorf("the placement asked %q beside a check whose first request had failed for good, want nothing asked", asked)
	}
}
