package transfer_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/opencontainers/go-digest"
	specs "github.com/opencontainers/image-spec/specs-go"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/stellaops/mirror/internal/testutil"
	"github.com/stellaops/mirror/pkg/transfer"
)

// A source registry lists, as a referrer of an image, a manifest it does
// not hold, and as that manifest's referrers more it does not hold, each
// with more of its own: a walk that lists the referrers of what was
// listed, level after level, before it fetches and checks any of it, asks
// for MaxReferrers^MaxDepth listings (a thousand a listing: a walk that
// never ends, and memory that does not hold) before it learns that the
// first referrer is not there. The referrers of a referrer are to be
// listed only once its manifest was fetched (counted in the walk's budget)
// and names its subject, as the walk one referrer after another did: here,
// never. On the level-at-a-time listing, with two a listing here, 255
// listings were asked of referrers never fetched.
func TestWalkReferrersListsOnlyWhatItFetched(t *testing.T) {
	var subject atomic.Pointer[digest.Digest]
	var beyond atomic.Int64 // listings asked of anything but the subject
	fake := func(seed string) ocispec.Descriptor {
		return ocispec.Descriptor{MediaType: ocispec.MediaTypeImageManifest, Digest: digest.FromString(seed), Size: 512}
	}
	host := testutil.RegistryWrapped(t, func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			i := strings.LastIndex(r.URL.Path, "/referrers/")
			if r.Method != http.MethodGet || i < 0 {
				next.ServeHTTP(w, r)
				return
			}
			dg := digest.Digest(r.URL.Path[i+len("/referrers/"):])
			idx := ocispec.Index{Versioned: specs.Versioned{SchemaVersion: 2}, MediaType: ocispec.MediaTypeImageIndex}
			if s := subject.Load(); s != nil && dg == *s {
				idx.Manifests = []ocispec.Descriptor{fake("absent")}
			} else {
				beyond.Add(1)
				for n := range 2 {
					idx.Manifests = append(idx.Manifests, fake(fmt.Sprint(dg, n)))
				}
			}
			w.Header().Set("Content-Type", ocispec.MediaTypeImageIndex)
			_ = json.NewEncoder(w).Encode(idx)
		})
	})
	repo, err := testutil.Client(t).Repository(host + "/test/hostile")
	if err != nil {
		t.Fatal(err)
	}
	index, manifests, _ := multiPlatform(t, repo, 1)
	g := transfer.NewGraph()
	if err := g.Walk(context.Background(), repo, index); err != nil {
		t.Fatal(err)
	}
	subject.Store(&manifests[0].Digest)
	_, err = g.WalkReferrersOf(context.Background(), repo, manifests)
	if err == nil || !strings.Contains(err.Error(), fake("absent").Digest.String()) {
		t.Errorf("err = %v, want the absent referrer %s not found", err, fake("absent").Digest)
	}
	if n := beyond.Load(); n != 0 {
		t.Errorf("%d listings were asked of referrers never fetched", n)
	}
}
