package mirror_test

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stellaops/mirror/internal/sample"
	"github.com/stellaops/mirror/internal/testutil"
	"github.com/stellaops/mirror/pkg/errdef"
	"github.com/stellaops/mirror/pkg/layout"
	"github.com/stellaops/mirror/pkg/mirror"
)

// sync reads the destination for the generation check while the source
// is still being read. Its warnings (here: the held root, signed by a key
// the run does not trust, is not counted as held) were logged as they
// came, so a sync whose source was then refused told the operator about
// the destination first. They are now held until the check is judged:
// told when the source verified, dropped when it was refused. The source
// holds its root's referrers listing until the destination has served
// the held root's envelope, so the destination's read is done before the
// source can be refused (on the old code the warning came first).
func TestSyncTellsDestinationWarningsInTheirTurn(t *testing.T) {
	held := newSignedSample(t, sample.Spec{}, 0)
	newer := newSignedSample(t, sample.Spec{Version: "2025.11.0", Variant: 7}, fixedTime.Unix()+1)
	_, other := testKeys(t, "other")
	heldEnvelope := headFileBlob(t, held.dir, layout.EnvelopeFile)
	// served is closed once the destination served the held root's
	// envelope, in the current sync.
	type gate struct {
		served chan struct{}
		once   sync.Once
	}
	var cur atomic.Pointer[gate]
	var holding atomic.Bool
	dst := testutil.RegistryWrapped(t, func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			next.ServeHTTP(w, r)
			if holding.Load() && r.Method == http.MethodGet && r.URL.Path == heldEnvelope {
				g := cur.Load()
				g.once.Do(func() { close(g.served) })
			}
		})
	})
	src := testutil.RegistryWrapped(t, func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if holding.Load() && r.Method == http.MethodGet && strings.Contains(r.URL.Path, "/referrers/") {
				select {
				case <-cur.Load().served:
				case <-r.Context().Done():
					return
				case <-time.After(10 * time.Second): // a bound, should the destination never read it
				}
			}
			next.ServeHTTP(w, r)
		})
	})
	dstRepo := dst + "/stellaops/mirror-bundle"
	if _, err := mirror.Push(context.Background(), mirror.PushOptions{Now: testNow, Source: held.dir, Reference: dstRepo, Client: testutil.Client(t), Transfer: transferOpts()}); err != nil {
		t.Fatal(err)
	}
	ref := src + "/stellaops/mirror-bundle:" + newer.rel.Spec.Version
	pushSampleTo(t, newer, ref)
	holding.Store(true)
	sync := func(pub string) (string, error) {
		cur.Store(&gate{served: make(chan struct{})})
		var out bytes.Buffer
		_, err := mirror.Sync(context.Background(), mirror.SyncOptions{Now: testNow, Source: ref, Destination: dstRepo,
			Trust: trustKeys(pub), Client: testutil.Client(t), Transfer: transferOpts(),
			Logger: slog.New(slog.NewTextHandler(&out, nil))})
		return out.String(), err
	}
	const warning = "not counted as held"
	logged, err := sync(other)
	if !errors.Is(err, errdef.ErrSignature) {
		t.Fatalf("sync with another key: %v, want a signature refusal", err)
	}
	if strings.Contains(logged, warning) {
		t.Errorf("sync refused for its source logged the destination's warning first:\n%s", logged)
	}
	logged, err = sync(newer.pub)
	if err != nil {
		t.Fatalf("sync with the source's key: %v", err)
	}
	if !strings.Contains(logged, warning) {
		t.Errorf("sync with the source's key did not log that the held root (another key's) is not counted:\n%s", logged)
	}
}
