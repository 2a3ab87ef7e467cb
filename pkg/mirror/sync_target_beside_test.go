package mirror_test

import (
	"context"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/opencontainers/go-digest"

	"github.com/stellaops/mirror/internal/sample"
	"github.com/stellaops/mirror/internal/testutil"
	"github.com/stellaops/mirror/pkg/mirror"
)

// sync reads the target's bundles (the rollback check) while it reads the
// source's image manifests, not after: here the source holds each image
// manifest until the target has been asked something. On the old code the
// target was asked only once every image manifest was in, so each hold ran
// out: two chains of round trips one after the other.
func TestSyncReadsTargetBesideSource(t *testing.T) {
	s := newSignedSample(t, sample.Spec{}, 0)
	images := imageManifests(s.rel)
	var mu sync.Mutex
	on := false
	var late []string
	asked := make(chan struct{}) // closed once the target was asked anything
	var once sync.Once
	source := testutil.RegistryWrapped(t, func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			mu.Lock()
			counting := on
			mu.Unlock()
			i := strings.LastIndex(r.URL.Path, "/manifests/")
			if counting && r.Method == http.MethodGet && i >= 0 && slices.Contains(images, digest.Digest(r.URL.Path[i+len("/manifests/"):])) {
				select {
				case <-asked:
				case <-time.After(5 * time.Second):
					mu.Lock()
					late = append(late, r.URL.Path)
					mu.Unlock()
				}
			}
			next.ServeHTTP(w, r)
		})
	})
	target := testutil.RegistryWrapped(t, func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			once.Do(func() { close(asked) })
			next.ServeHTTP(w, r)
		})
	})
	ref := source + "/stellaops/mirror-bundle:" + s.rel.Spec.Version
	pushSampleTo(t, s, ref)
	mu.Lock()
	on = true
	mu.Unlock()
	synced, err := mirror.Sync(context.Background(), mirror.SyncOptions{Now: testNow, Source: ref, Destination: target + "/stellaops/mirror-bundle",
		Trust: trustKeys(s.pub), Client: testutil.Client(t), Transfer: transferOpts()})
	if err != nil {
		t.Fatal(err)
	}
	if synced.Manifests.Pushed == 0 {
		t.Fatal("nothing synced")
	}
	mu.Lock()
	defer mu.Unlock()
	if len(late) > 0 {
		t.Fatalf("%d image manifests of the source waited 5 s for the target to be asked anything (%s): read one chain after the other", len(late), late[0])
	}
}
