package mirror_test

import (
	"net/http"
	"strings"
	"testing"

	"github.com/stellaops/mirror/internal/sample"
	"github.com/stellaops/mirror/pkg/transfer"
)

// A bundle's small blobs (configs, SBOMs, its own files) go up beside its
// large ones, not after them: here the upload of every large blob is held
// until some small ones are in. The sample's 8 large layers fill the
// default 8 transfers; on the old code no small blob started until a large
// one was done, so their round trips were the end of every push, import
// and sync, with nothing else in flight, and here the push gave up.
func TestSmallBlobsGoBesideLargeOnes(t *testing.T) {
	s := newSignedSample(t, sample.Spec{BaseLayerSize: 3 << 19, LayerSize: 3 << 19}, 0)
	large := map[string]bool{}
	for _, img := range s.rel.Images {
		for dg, size := range img.Blobs {
			if size >= transfer.SmallItem {
				large[dg.String()] = true
			}
		}
	}
	if len(large) < transfer.DefaultConcurrency {
		t.Fatalf("the sample has %d large blobs, want at least %d", len(large), transfer.DefaultConcurrency)
	}
	// upload is the digest a request completes the upload of.
	upload := func(r *http.Request) string {
		if r.Method != http.MethodPut || !strings.Contains(r.URL.Path, "/blobs/uploads/") {
			return ""
		}
		return r.URL.Query().Get("digest")
	}
	pushHeld(t, s, "large uploads", 4,
		func(r *http.Request) bool { return large[upload(r)] },
		func(r *http.Request) (string, bool) { dg := upload(r); return dg, dg != "" && !large[dg] })
}
