package mirror_test

import (
	"net/http"
	"strings"
	"testing"

	"github.com/stellaops/mirror/internal/sample"
	"github.com/stellaops/mirror/pkg/transfer"
)

// A push asks whether the registry holds each blob ahead of the blob's
// upload, not in the upload's own turn: here no upload completes (PUT)
// before the registry answered more such questions than blobs are sent at
// once. On the old code, each of the --concurrency uploads in flight asked
// for its own blob only, then waited at its PUT: no more were asked.
func TestPushAsksForBlobsAhead(t *testing.T) {
	s := newSignedSample(t, sample.Spec{Layers: 4}, 0)
	layers := map[string]bool{}
	for _, img := range s.rel.Images {
		for dg := range img.Blobs {
			if !img.Manifests[dg] {
				layers[dg.String()] = true
			}
		}
	}
	want := transfer.DefaultConcurrency + 1
	if len(layers) < want {
		t.Fatalf("the sample has %d blobs, want at least %d", len(layers), want)
	}
	// blob is what a request under /blobs/ names: a digest or uploads/….
	blob := func(r *http.Request) string {
		if i := strings.LastIndex(r.URL.Path, "/blobs/"); i >= 0 {
			return r.URL.Path[i+len("/blobs/"):]
		}
		return ""
	}
	pushHeld(t, s, "uploads (blobs asked for)", want,
		func(r *http.Request) bool {
			return r.Method == http.MethodPut && strings.HasPrefix(blob(r), "uploads/")
		},
		func(r *http.Request) (string, bool) {
			ref := blob(r)
			return ref, r.Method == http.MethodHead && layers[ref]
		})
}
