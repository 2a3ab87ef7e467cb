package mirror_test

import (
	"context"
	"errors"
	"net/http"
	"path/filepath"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/opencontainers/go-digest"

	"github.com/stellaops/mirror/internal/sample"
	"github.com/stellaops/mirror/internal/testutil"
	"github.com/stellaops/mirror/pkg/errdef"
	"github.com/stellaops/mirror/pkg/mirror"
)

// A registry bundle's image manifests are fetched while its signing is
// read, but a bundle whose signature does not verify is refused at once,
// however slowly its registry serves them: here the source holds every
// image manifest GET until the test ends. When the open waited for those
// fetches, pull and sync with the wrong key hung on them instead of
// saying the signature did not verify.
func TestSignatureRefusedWithoutWaitingForImages(t *testing.T) {
	s := newSignedSample(t, sample.Spec{}, 0)
	_, other := testKeys(t, "other")
	images := imageManifests(s.rel)
	var holding atomic.Bool
	release := make(chan struct{})
	t.Cleanup(func() { close(release) })
	source := testutil.RegistryWrapped(t, func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			i := strings.LastIndex(r.URL.Path, "/manifests/")
			if holding.Load() && r.Method == http.MethodGet && i >= 0 && slices.Contains(images, digest.Digest(r.URL.Path[i+len("/manifests/"):])) {
				select {
				case <-release:
				case <-r.Context().Done():
					return
				}
			}
			next.ServeHTTP(w, r)
		})
	})
	ref := source + "/stellaops/mirror-bundle:" + s.rel.Spec.Version
	pushSampleTo(t, s, ref)
	holding.Store(true)
	for _, read := range []struct {
		name string
		run  func() error
	}{
		{"pull", func() error {
			_, err := mirror.Pull(context.Background(), mirror.PullOptions{Reference: ref, Output: filepath.Join(t.TempDir(), "pulled"),
				Trust: trustKeys(other), Client: testutil.Client(t), Transfer: transferOpts()})
			return err
		}},
		{"sync", func() error {
			_, err := mirror.Sync(context.Background(), mirror.SyncOptions{Now: testNow, Source: ref, Destination: testutil.Registry(t) + "/stellaops/mirror-bundle",
				Trust: trustKeys(other), Client: testutil.Client(t), Transfer: transferOpts()})
			return err
		}},
	} {
		done := make(chan error, 1)
		go func() { done <- read.run() }()
		select {
		case err := <-done:
			if !errors.Is(err, errdef.ErrSignature) {
				t.Errorf("%s with another key: %v, want a signature refusal", read.name, err)
			}
		case <-time.After(10 * time.Second):
			t.Fatalf("%s with another key: no answer in 10 s while the source held its image manifests (waited for them before the signature)", read.name)
		}
	}
}
