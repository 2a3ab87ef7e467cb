package mirror_test

import (
	"context"
	"net/http"
	"slices"
	"testing"

	"github.com/stellaops/mirror/internal/sample"
	"github.com/stellaops/mirror/internal/testutil"
	"github.com/stellaops/mirror/pkg/mirror"
)

// Sync's generation check read the destination's bundle repository only
// once the source bundle was read, signing and all: the destination's tag
// list, its tags and the newest held roots' signings were a chain of
// their own before the first blob. The destination is now read while the
// source's signing is; on the old code the source's envelope GET was held
// alone. The check still refuses what it refused (TestPushSyncRefuseOlderOrExpired).
func TestSyncReadsDestinationBesideSigning(t *testing.T) {
	s := newSignedSample(t, sample.Spec{}, 0)
	envelope := envelopeBlob(t, s.dir)
	ref, together := pushedBehindBarrier(t, s)
	dst := testutil.RegistryWrapped(t, together.Wrap)
	together.Hold(func(r *http.Request) bool {
		return r.Method == http.MethodGet && (r.URL.Path == envelope || r.URL.Path == "/v2/stellaops/mirror-bundle/tags/list")
	})
	runTogether(t, together, "the source's envelope and the destination's tag list", func() error {
		_, err := mirror.Sync(context.Background(), mirror.SyncOptions{Now: testNow, Source: ref, Destination: dst + "/stellaops/mirror-bundle",
			Trust: trustKeys(s.pub), Client: testutil.Client(t), Transfer: transferOpts()})
		return err
	})
	if tags := testutil.Tags(t, dst)["stellaops/mirror-bundle"]; !slices.Contains(tags, s.rel.Spec.Version) {
		t.Errorf("the destination's bundle repository has tags %v after the sync, want %s among them", tags, s.rel.Spec.Version)
	}
}
