package mirror_test

import (
	"context"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/opencontainers/go-digest"

	"github.com/stellaops/mirror/internal/sample"
	"github.com/stellaops/mirror/internal/testutil"
	"github.com/stellaops/mirror/pkg/layout"
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
	env, err := os.ReadFile(filepath.Join(s.dir, layout.EnvelopeFile))
	if err != nil {
		t.Fatal(err)
	}
	envelope := "/v2/stellaops/mirror-bundle/blobs/" + digest.FromBytes(env).String()
	ref, together := pushedBehindBarrier(t, s)
	dst := testutil.RegistryWrapped(t, together.Wrap)
	together.Hold(func(r *http.Request) bool {
		return r.Method == http.MethodGet && (r.URL.Path == envelope || r.URL.Path == "/v2/stellaops/mirror-bundle/tags/list")
	})
	synced := make(chan error, 1)
	go func() {
		_, err := mirror.Sync(context.Background(), mirror.SyncOptions{Now: testNow, Source: ref, Destination: dst + "/stellaops/mirror-bundle",
			Trust: trustKeys(s.pub), Client: testutil.Client(t), Transfer: transferOpts()})
		synced <- err
	}()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := together.Wait(ctx); err != nil {
		t.Errorf("the source's envelope and the destination's tag list: %v", err)
	}
	if err := <-synced; err != nil {
		t.Fatal(err)
	}
	if tags := testutil.Tags(t, dst)["stellaops/mirror-bundle"]; !slices.Contains(tags, s.rel.Spec.Version) {
		t.Errorf("the destination's bundle repository has tags %v after the sync, want %s among them", tags, s.rel.Spec.Version)
	}
}
