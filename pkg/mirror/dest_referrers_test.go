package mirror_test

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"strings"
	"sync"
	"testing"

	specs "github.com/opencontainers/image-spec/specs-go"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/stellaops/mirror/internal/sample"
	"github.com/stellaops/mirror/internal/testutil"
	"github.com/stellaops/mirror/pkg/errdef"
	"github.com/stellaops/mirror/pkg/mirror"
)

// TestReferrersAPIThatListsNothing: a registry that serves the referrers
// API but never lists what was pushed (it does not index subjects) holds
// the bundle's signature where no reader finds it. The placement fails,
// naming the referrer, instead of reporting success.
func TestReferrersAPIThatListsNothing(t *testing.T) {
	s := newSignedSample(t, sample.Spec{}, 0)
	host := testutil.RegistryWrapped(t, func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.Method == http.MethodGet && strings.Contains(r.URL.Path, "/referrers/") {
				w.Header().Set("Content-Type", ocispec.MediaTypeImageIndex)
				json.NewEncoder(w).Encode(ocispec.Index{Versioned: specs.Versioned{SchemaVersion: 2}, MediaType: ocispec.MediaTypeImageIndex, Manifests: []ocispec.Descriptor{}})
				return
			}
			next.ServeHTTP(w, r)
		})
	})
	_, err := mirror.Import(context.Background(), importOpts(t, s.dir, host, s.pub))
	if !errors.Is(err, errdef.ErrUnavailable) || !strings.Contains(err.Error(), host) || !strings.Contains(err.Error(), "not listed") {
		t.Fatalf("err = %v, want ErrUnavailable naming the registry and the referrer not listed", err)
	}
	if tags := testutil.Tags(t, host); len(tags["stellaops/mirror-bundle"]) != 0 {
		t.Errorf("bundle tagged: %v", tags)
	}
}

// TestReferrersAPIIndexingLate: a registry that indexes a subject a moment
// after the push (the first listing of each subject after a push comes back
// empty) is asked again with the backoff, and the import completes.
func TestReferrersAPIIndexingLate(t *testing.T) {
	s := newSignedSample(t, sample.Spec{}, 0)
	host := lateRegistry(t, func(r *http.Request) bool {
		return r.Method == http.MethodGet && strings.Contains(r.URL.Path, "/referrers/")
	}, func(w http.ResponseWriter) {
		w.Header().Set("Content-Type", ocispec.MediaTypeImageIndex)
		json.NewEncoder(w).Encode(ocispec.Index{Versioned: specs.Versioned{SchemaVersion: 2}, MediaType: ocispec.MediaTypeImageIndex, Manifests: []ocispec.Descriptor{}})
	})
	res, err := mirror.Import(context.Background(), importOpts(t, s.dir, host, s.pub))
	if err != nil {
		t.Fatal(err)
	}
	if res.ReferrersMode != mirror.ReferrersAPI {
		t.Errorf("referrers mode %q, want the API", res.ReferrersMode)
	}
}

// lateRegistry is an in-process registry that answers the first request
// for each path that match selects with stale, as a registry that applies
// writes a moment late would, and every later one as it is.
func lateRegistry(t *testing.T, match func(*http.Request) bool, stale func(http.ResponseWriter)) string {
	var mu sync.Mutex
	asked := map[string]bool{}
	return testutil.RegistryWrapped(t, func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if match(r) {
				mu.Lock()
				first := !asked[r.URL.Path]
				asked[r.URL.Path] = true
				mu.Unlock()
				if first {
					stale(w)
					return
				}
			}
			next.ServeHTTP(w, r)
		})
	})
}
