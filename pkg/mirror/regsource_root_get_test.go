package mirror_test

import (
	"context"
	"net/http"
	"path/filepath"
	"testing"

	"github.com/stellaops/mirror/internal/sample"
	"github.com/stellaops/mirror/internal/testutil"
	"github.com/stellaops/mirror/pkg/mirror"
)

// A bundle read from a registry (pull, sync) was resolved with a HEAD of
// its reference and its root then read with a GET of its digest: a round
// trip more before anything else could start. One GET of the reference
// now does both.
func TestRegistryBundleRootIsReadWithOneGet(t *testing.T) {
	ctx := context.Background()
	s := newSignedSample(t, sample.Spec{}, 0)
	reg := newCountedRegistry(t)
	src := reg.host
	ref := src + "/stellaops/mirror-bundle"
	pushed, err := mirror.Push(ctx, mirror.PushOptions{Now: testNow, Source: s.dir, Reference: ref, Trust: trustKeys(s.pub), Client: testutil.Client(t), Transfer: transferOpts()})
	if err != nil {
		t.Fatal(err)
	}
	tag := "/v2/stellaops/mirror-bundle/manifests/" + s.rel.Spec.Version
	byDigest := "/v2/stellaops/mirror-bundle/manifests/" + pushed.Root.String()
	reads := map[string]func() error{
		"pull": func() error {
			_, err := mirror.Pull(ctx, mirror.PullOptions{Reference: ref + ":" + s.rel.Spec.Version, Output: filepath.Join(t.TempDir(), "pulled"),
				Trust: trustKeys(s.pub), Client: testutil.Client(t), Transfer: transferOpts()})
			return err
		},
		"sync": func() error {
			_, err := mirror.Sync(ctx, mirror.SyncOptions{Now: testNow, Source: ref + ":" + s.rel.Spec.Version, Destination: testutil.Registry(t) + "/stellaops/mirror-bundle",
				Trust: trustKeys(s.pub), Client: testutil.Client(t), Transfer: transferOpts()})
			return err
		},
	}
	for name, read := range reads {
		t.Run(name, func(t *testing.T) {
			reg.reset()
			if err := read(); err != nil {
				t.Fatal(err)
			}
			if n := reg.count(http.MethodHead, tag); n != 0 {
				t.Errorf("%d HEADs of the bundle's tag, want none", n)
			}
			if n := reg.count(http.MethodGet, tag); n != 1 {
				t.Errorf("%d GETs of the bundle's tag, want 1", n)
			}
			if n := reg.count(http.MethodGet, byDigest) + reg.count(http.MethodHead, byDigest); n != 0 {
				t.Errorf("the root asked for again by digest %d times, want none", n)
			}
		})
	}
}
