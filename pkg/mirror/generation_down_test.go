package mirror_test

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"testing"

	"github.com/stellaops/mirror/internal/sample"
	"github.com/stellaops/mirror/internal/testutil"
	"github.com/stellaops/mirror/pkg/bundle"
	"github.com/stellaops/mirror/pkg/errdef"
	"github.com/stellaops/mirror/pkg/mirror"
	"github.com/stellaops/mirror/pkg/remote"
)

// TestGenerationCheckEndsOnItsFirstFailure: an import's generation check
// reads the release's tag while it lists the bundle repository's tags.
// When that read fails for good (the registry gone down) the check fails
// at once, naming the tag, and the list is stopped: it went on through
// its every try while the placement beside the check kept asking the
// registry (51 requests where 3 tell it; found by CI). The tag list is
// held here until its request is cancelled (or 10 s pass).
func TestGenerationCheckEndsOnItsFirstFailure(t *testing.T) {
	s := newSignedSample(t, sample.Spec{}, 0)
	// The list may be cancelled before it is sent (the tag's read failed
	// first): it is waited for only once the registry was asked for it.
	list := newHeldRequest()
	tagPath := "/" + bundle.DefaultBundleRepository + "/manifests/" + s.rel.Spec.Version
	host := testutil.RegistryWrapped(t, func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			switch {
			case r.Method == http.MethodGet && strings.HasSuffix(r.URL.Path, tagPath):
				http.Error(w, "down", http.StatusServiceUnavailable)
			case strings.HasSuffix(r.URL.Path, "/"+bundle.DefaultBundleRepository+"/tags/list") && list.hold(w, r):
			default:
				next.ServeHTTP(w, r)
			}
		})
	})
	opts := importOpts(t, s.dir, host, s.pub)
	opts.Client = testutil.ClientWith(t, remote.Options{Retries: -1})
	_, err := mirror.Import(context.Background(), opts)
	if !errors.Is(err, errdef.ErrUnavailable) || !strings.Contains(err.Error(), ":"+s.rel.Spec.Version) {
		t.Fatalf("import with the release tag's read failing: %v, want unavailable naming :%s", err, s.rel.Spec.Version)
	}
	if !list.held() {
		return // cancelled before it was sent
	}
	if got := list.end(); got != "cancelled" {
		t.Errorf("the tag list: %s, want cancelled when the tag's read failed (the list went on while the import had failed)", got)
	}
}
