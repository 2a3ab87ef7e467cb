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
	"github.com/stellaops/mirror/pkg/bundle"
	"github.com/stellaops/mirror/pkg/errdef"
	"github.com/stellaops/mirror/pkg/mirror"
	"github.com/stellaops/mirror/pkg/remote"
)

// TestGenerationWaveEndsOnARootUnread: where the newest root a bundle
// repository holds does not verify, the generation check verifies the
// next ones in a wave, at once. A root of the wave that cannot be checked
// (the registry gone down) fails the check, as no root before it in the
// wave verified: the roots after it, which decide nothing then, are
// stopped as it fails. They went on through their own chains (here a
// root's reads held until cancelled, or 10 s; on a registry gone down the
// idle timeout, two minutes an attempt) before the check failed. The
// repository holds bundle A (generation 100) and roots claiming 200, 201
// and 202 (not verifying); 201's reads fail, 200's are held.
func TestGenerationWaveEndsOnARootUnread(t *testing.T) {
	ctx := context.Background()
	a := newSignedSample(t, sample.Spec{}, 100)
	var on atomic.Bool
	var failing, holding atomic.Value
	failing.Store("-")
	holding.Store("-")
	read := newHeldRequest()
	host := testutil.RegistryWrapped(t, func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			switch {
			case on.Load() && strings.Contains(r.URL.Path, failing.Load().(string)):
				read.waitHeld()
				http.Error(w, "down", http.StatusServiceUnavailable)
				return
			case on.Load() && strings.Contains(r.URL.Path, holding.Load().(string)) && read.hold(w, r):
				return
			}
			next.ServeHTTP(w, r)
		})
	})
	repo := host + "/" + bundle.DefaultBundleRepository
	if _, err := mirror.Import(ctx, importOpts(t, a.dir, host, a.pub)); err != nil {
		t.Fatal(err)
	}
	floodRepo(t, repo, a.rel.Spec.Version, 3, 200, 0, false)
	r, err := testutil.Client(t).Repository(repo)
	if err != nil {
		t.Fatal(err)
	}
	for tag, v := range map[string]*atomic.Value{"forged-1": &failing, "forged-0": &holding} {
		d, err := r.Resolve(ctx, tag)
		if err != nil {
			t.Fatal(err)
		}
		v.Store(d.Digest.String())
	}
	on.Store(true)
	opts := importOpts(t, a.dir, host, a.pub)
	opts.Client = testutil.ClientWith(t, remote.Options{Retries: 2})
	_, err = mirror.Import(ctx, opts)
	if !errors.Is(err, errdef.ErrUnavailable) || !strings.Contains(err.Error(), failing.Load().(string)) {
		t.Errorf("import with a root of the wave unread: %v, want unavailable naming root %s", err, failing.Load())
	}
	if !read.held() {
		t.Fatal("no read of the root after it was held: the test did not set the scene")
	}
	if got := read.end(); got != "cancelled" {
		t.Errorf("the read of the root after the one unread: %s, want cancelled once the check failed", got)
	}
}
