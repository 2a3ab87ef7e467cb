package mirror_test

import (
	"context"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"

	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/stellaops/mirror/internal/sample"
	"github.com/stellaops/mirror/internal/testutil"
	"github.com/stellaops/mirror/pkg/mirror"
)

// The registry's referrers support was probed once every image manifest
// was pushed, a round trip of its own after them. It is now probed beside
// the images' waves after the first (the probe needs a repository that
// holds a manifest): on the old code the probe and the push of a
// multi-platform image's index were never in flight together.
func TestReferrersProbedBesideImageIndexes(t *testing.T) {
	s := newSignedSample(t, sample.Spec{}, 0)
	// One index is held with the probe: the others would make up the
	// barrier's two on their own.
	index := ""
	for _, img := range s.rel.Images {
		if img.Descriptor.MediaType == ocispec.MediaTypeImageIndex {
			index = "/manifests/" + img.Descriptor.Digest.String()
		}
	}
	if index == "" {
		t.Fatal("the sample has no multi-platform image")
	}
	root, _ := rootAndMetadata(t, s.dir)
	together := testutil.NewBarrier(2)
	together.Hold(func(r *http.Request) bool {
		return (r.Method == http.MethodGet && strings.HasSuffix(r.URL.Path, "/referrers/"+root)) ||
			(r.Method == http.MethodPut && strings.HasSuffix(r.URL.Path, index))
	})
	pushBehind(t, s, together, "the referrers probe and an image index's push")
}

// The generation check ran again once the referrers were relisted after
// the last manifests, a round trip of its own before the tag. It now goes
// beside that relisting: on the old code the relisting of the root's
// referrers and the check's tag list were never in flight together.
func TestGenerationRecheckBesideRelisting(t *testing.T) {
	s := newSignedSample(t, sample.Spec{}, 0)
	root, _ := rootAndMetadata(t, s.dir)
	var rootPushed atomic.Bool
	together := testutil.NewBarrier(2)
	together.Hold(func(r *http.Request) bool {
		if r.Method == http.MethodPut && strings.HasSuffix(r.URL.Path, "/manifests/"+root) {
			rootPushed.Store(true)
		}
		return rootPushed.Load() && r.Method == http.MethodGet &&
			(strings.HasSuffix(r.URL.Path, "/referrers/"+root) || strings.HasSuffix(r.URL.Path, "/tags/list"))
	})
	pushBehind(t, s, together, "the root's referrers relisted and the generation check's tag list")
}

// pushBehind pushes s into a registry behind together, which must see
// what it holds in flight together within 5 seconds.
func pushBehind(t *testing.T, s *signedSample, together *testutil.Barrier, what string) {
	t.Helper()
	host := testutil.RegistryWrapped(t, together.Wrap)
	var res *mirror.PlaceResult
	runTogether(t, together, what, func() (err error) {
		res, err = mirror.Push(context.Background(), mirror.PushOptions{Now: testNow, Source: s.dir, Reference: host + "/stellaops/mirror-bundle",
			Trust: trustKeys(s.pub), Client: testutil.Client(t), Transfer: transferOpts()})
		return err
	})
	if res.Manifests.Pushed == 0 || res.Tags == 0 {
		t.Errorf("the push placed %d manifests and %d tags, want every one", res.Manifests.Pushed, res.Tags)
	}
}
