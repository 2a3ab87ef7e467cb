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

// TestFreshImportMountsWithoutAsking: a fresh import sends a blob its
// repositories share to the first, then has the registry mount it into the
// others (distribution, which mounts), without a HEAD in each before: its
// first repository did not hold it, so neither, most likely, do they, and
// a repository that does answers the mount all the same. Every blob is
// where it belongs, and the shared base layer was mounted, not sent again;
// from a directory (read at random) and from a stream alike.
// Before, each other repository was asked first and then mounted into, a
// HEAD and a POST one after the other, for each.
func TestFreshImportMountsWithoutAsking(t *testing.T) {
	t.Parallel()
	s := newSignedSample(t, sample.Spec{}, 0)
	base := sharedLayer(s.rel)
	sources := map[string]string{"directory": s.dir, "stream": s.foreign(t, ".tar.gz")}
	for name, source := range sources {
		t.Run(name, func(t *testing.T) {
			var (
				mu     sync.Mutex
				heads  = map[string]bool{} // repo/digest asked by HEAD
				mounts []string            // repo/digest mounted into
				baseIn = map[string]bool{} // repositories the base layer was mounted into
			)
			target := testutil.ProxyWrapped(t, testutil.Distribution(t), func(next http.Handler) http.Handler {
				return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
					repo, rest, _ := strings.Cut(strings.TrimPrefix(r.URL.Path, "/v2/"), "/blobs/")
					mu.Lock()
					switch {
					case r.Method == http.MethodHead && rest != "" && !strings.HasPrefix(rest, "uploads"):
						heads[repo+"/"+rest] = true
					case r.Method == http.MethodPost && r.URL.Query().Has("mount"):
						dg := r.URL.Query().Get("mount")
						mounts = append(mounts, repo+"/"+dg)
						if dg == base.String() {
							baseIn[repo] = true
						}
					}
					mu.Unlock()
					next.ServeHTTP(w, r)
				})
			})
			res, err := mirror.Import(context.Background(), importOpts(t, source, target, s.pub))
			if err != nil {
				t.Fatal(err)
			}
			assertImported(t, s, target, res)
			mu.Lock()
			defer mu.Unlock()
			if len(baseIn) < 2 || res.Blobs.Mounted < int64(len(mounts)) {
				t.Errorf("base layer mounted into %d repositories, %d blobs mounted of %d mounts asked: the test did not test", len(baseIn), res.Blobs.Mounted, len(mounts))
			}
			for _, m := range mounts {
				if heads[m] {
					t.Errorf("HEAD %s sent before its mount: the repository was asked first", m)
				}
			}
		})
	}
}
