package mirror_test

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"sync"
	"testing"

	"github.com/stellaops/mirror/internal/sample"
	"github.com/stellaops/mirror/internal/testutil"
	"github.com/stellaops/mirror/pkg/mirror"
)

// TestSpreadFailureIsTheErrorTold: a blob shared by several images is sent
// to its first repository, then copied to the others (spread); here the
// registry refuses the copy (403 to the HEAD in the second repository).
// The spread's failure cancels the uploads still going, and the run used to
// report their cancellation instead, "context canceled" (exit 130, as if
// the operator had pressed Ctrl-C), or another blob's upload "cut short":
// in about one run in three on a stream or a directory, more since the
// reads and HEADs went ahead of the uploads. Now the refusal is told. Each
// source is imported several times, since which upload is cut short, if
// any, depends on timing.
func TestSpreadFailureIsTheErrorTold(t *testing.T) {
	s := newSignedSample(t, sample.Spec{Images: 6, Layers: 8}, 0)
	sources := map[string]string{"directory": s.dir, "stream": s.foreign(t, ".tar.gz")}
	for name, source := range sources {
		t.Run(name, func(t *testing.T) {
			for range 8 {
				var mu sync.Mutex
				first := map[string]string{} // digest: the repository first asked for it
				host := testutil.RegistryWrapped(t, func(next http.Handler) http.Handler {
					return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
						repo, dg, isBlob := strings.Cut(strings.TrimPrefix(r.URL.Path, "/v2/"), "/blobs/")
						if r.Method == http.MethodHead && isBlob {
							mu.Lock()
							was, seen := first[dg]
							if !seen {
								first[dg] = repo
							}
							mu.Unlock()
							if seen && was != repo {
								w.WriteHeader(http.StatusForbidden)
								return
							}
						}
						next.ServeHTTP(w, r)
					})
				})
				_, err := mirror.Import(context.Background(), importOpts(t, source, host, s.pub))
				if err == nil {
					t.Fatal("import passed a registry that refused a blob's copy")
				}
				if errors.Is(err, context.Canceled) || !strings.Contains(err.Error(), "403") || strings.Contains(err.Error(), "upload ") {
					t.Fatalf("err = %v; want the registry's refusal of the copy (403), not a cancellation (exit 130) nor an upload it cut short", err)
				}
			}
		})
	}
}
