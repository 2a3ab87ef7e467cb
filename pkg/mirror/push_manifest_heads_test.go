package mirror_test

import (
	"context"
	"net/http"
	"strings"
	"sync"
	"testing"

	"github.com/stellaops/mirror/internal/sample"
	"github.com/stellaops/mirror/internal/testutil"
	"github.com/stellaops/mirror/pkg/mirror"
)

// Whether the registry holds each manifest is asked of them all before the
// first is pushed: on the old code the bundle's own (root, metadata,
// signature, referrers) were asked after the images were pushed, a round
// trip more on every push, import and sync.
func TestManifestsAskedInOneRound(t *testing.T) {
	s := newSignedSample(t, sample.Spec{}, 0)
	var mu sync.Mutex
	var pushed bool
	var late []string
	wrap := func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			i := strings.LastIndex(r.URL.Path, "/manifests/")
			if i >= 0 && strings.HasPrefix(r.URL.Path[i+len("/manifests/"):], "sha256:") {
				mu.Lock()
				switch r.Method {
				case http.MethodPut:
					pushed = true
				case http.MethodHead:
					if pushed {
						late = append(late, r.URL.Path)
					}
				}
				mu.Unlock()
			}
			next.ServeHTTP(w, r)
		})
	}
	host := testutil.RegistryWrapped(t, wrap)
	res, err := mirror.Push(context.Background(), mirror.PushOptions{Now: testNow, Source: s.dir, Reference: host + "/stellaops/mirror-bundle",
		Client: testutil.Client(t), Transfer: transferOpts()})
	if err != nil {
		t.Fatal(err)
	}
	if len(late) > 0 {
		t.Fatalf("%d manifests asked for after the first was pushed, e.g. %s", len(late), late[0])
	}
	if res.Manifests.Pushed == 0 || res.Manifests.Present != 0 {
		t.Fatalf("%d manifests pushed, %d present; want all pushed to an empty registry", res.Manifests.Pushed, res.Manifests.Present)
	}
}

// Whether the registry holds each manifest is asked while the blobs go:
// here no blob upload completes (PUT) before every manifest was asked for.
// On the old code they were asked once every blob was placed: a round of
// HEADs (one for every --concurrency manifests) after the blobs, none
// while the uploads were held.
func TestManifestsAskedBesideBlobs(t *testing.T) {
	s := newSignedSample(t, sample.Spec{}, 0)
	// head is the manifest a HEAD asks for, by repository and digest.
	head := func(r *http.Request) (string, bool) {
		i := strings.LastIndex(r.URL.Path, "/manifests/")
		return r.URL.Path, r.Method == http.MethodHead && i >= 0 && strings.HasPrefix(r.URL.Path[i+len("/manifests/"):], "sha256:")
	}
	var mu sync.Mutex
	asked := map[string]bool{}
	host := testutil.RegistryWrapped(t, func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if path, ok := head(r); ok {
				mu.Lock()
				asked[path] = true
				mu.Unlock()
			}
			next.ServeHTTP(w, r)
		})
	})
	if _, err := mirror.Push(context.Background(), mirror.PushOptions{Now: testNow, Source: s.dir, Reference: host + "/stellaops/mirror-bundle",
		Client: testutil.Client(t), Transfer: transferOpts()}); err != nil {
		t.Fatal(err)
	}
	if len(asked) < 3 {
		t.Fatalf("a push to an empty registry asked for %d manifests, want every one of the bundle's", len(asked))
	}
	pushHeld(t, s, "blob uploads (manifests asked for)", len(asked),
		func(r *http.Request) bool {
			return r.Method == http.MethodPut && strings.Contains(r.URL.Path, "/blobs/uploads/")
		}, head)
}
