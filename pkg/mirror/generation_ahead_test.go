package mirror_test

import (
	"context"
	"net/http"
	"testing"
	"time"

	"github.com/stellaops/mirror/internal/sample"
	"github.com/stellaops/mirror/internal/testutil"
)

// The generation check (before anything is placed, and again before the
// bundle's tag is written) lists the bundle repository's tags and reads
// the tag the bundle goes under whether listed or not. It read that tag
// only once the list was answered: a round trip more, one of them on the
// way to the bundle's tag. Both now go at once.
func TestGenerationCheckReadsTheTagBesideTheList(t *testing.T) {
	s := newSignedSample(t, sample.Spec{}, 0)
	const repo = "/v2/stellaops/mirror-bundle/"
	tag := repo + "manifests/" + s.rel.Spec.Version
	together := testutil.NewBarrier(2)
	together.Hold(func(r *http.Request) bool {
		return r.Method == http.MethodGet && (r.URL.Path == repo+"tags/list" || r.URL.Path == tag)
	})
	host := testutil.RegistryWrapped(t, together.Wrap)

	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	wait := startPush(ctx, t, s, host, trustKeys(s.pub))
	if err := together.Wait(ctx); err != nil {
		t.Errorf("the tag list and the bundle's tag: %v", err)
	}
	res := wait()
	if d, err := orasRepo(t, host, "stellaops/mirror-bundle").Resolve(ctx, s.rel.Spec.Version); err != nil || d.Digest != res.Root {
		t.Errorf("bundle tag names %s (%v), want the root %s", d.Digest, err, res.Root)
	}
}
