package mirror_test

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/stellaops/mirror/internal/sample"
	"github.com/stellaops/mirror/internal/testutil"
	"github.com/stellaops/mirror/pkg/errdef"
	"github.com/stellaops/mirror/pkg/mirror"
)

// TestGenerationSeesTheTagItReplaces: a tag list that leaves out a tag (a
// registry whose list lags behind its writes, or lies) must not let an
// older bundle replace, under the same release version, the newer one
// that tag names: the tag about to be written is read directly.
func TestGenerationSeesTheTagItReplaces(t *testing.T) {
	older := newSignedSample(t, sample.Spec{}, 0)
	newer := newSignedSample(t, sample.Spec{Variant: 7}, fixedTime.Unix()+1)
	// Signed with older's key too: only bundles that verify under the
	// import's trust count as held.
	sign(t, newer.dir, older.priv)
	if older.rel.Spec.Version != newer.rel.Spec.Version {
		t.Fatal("the samples must share their release version")
	}
	var hide atomic.Bool
	host := testutil.RegistryWrapped(t, func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if hide.Load() && strings.HasSuffix(r.URL.Path, "/tags/list") {
				w.Header().Set("Content-Type", "application/json")
				w.Write([]byte(`{"name":"x","tags":[]}`))
				return
			}
			next.ServeHTTP(w, r)
		})
	})
	ctx := context.Background()
	if _, err := mirror.Import(ctx, importOpts(t, newer.dir, host, newer.pub)); err != nil {
		t.Fatal(err)
	}
	hide.Store(true)
	opts := importOpts(t, older.dir, host, older.pub)
	_, err := mirror.Import(ctx, opts)
	if !errors.Is(err, errdef.ErrGeneration) {
		t.Fatalf("import of an older bundle under a tag list that hides the newer: %v, want ErrGeneration", err)
	}
	_, err = mirror.Push(ctx, mirror.PushOptions{Now: testNow, Source: older.dir, Reference: host + "/stellaops/mirror-bundle", Client: testutil.Client(t), Transfer: transferOpts()})
	if !errors.Is(err, errdef.ErrGeneration) {
		t.Fatalf("push: %v, want ErrGeneration", err)
	}
}
