package mirror_test

import (
	"context"
	"net/http"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/stellaops/mirror/internal/sample"
	"github.com/stellaops/mirror/internal/testutil"
	"github.com/stellaops/mirror/pkg/mirror"
	"github.com/stellaops/mirror/pkg/remote"
)

// requestLog records what a registry was asked, in front of it.
type requestLog struct {
	mu       sync.Mutex
	total    int
	refused  []string       // requests answered 401
	anon     []string       // requests sent without credentials
	blobHEAD map[string]int // HEADs of each repository's blob
}

func (l *requestLog) wrap(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rec := &statusRecorder{ResponseWriter: w, code: http.StatusOK}
		next.ServeHTTP(rec, r)
		l.mu.Lock()
		defer l.mu.Unlock()
		l.total++
		what := r.Method + " " + r.URL.Path
		if rec.code == http.StatusUnauthorized {
			l.refused = append(l.refused, what)
		}
		if r.Header.Get("Authorization") == "" {
			l.anon = append(l.anon, what)
		}
		if r.Method == http.MethodHead && strings.Contains(r.URL.Path, "/blobs/") {
			l.blobHEAD[r.URL.Path]++
		}
	})
}

// forget drops what was recorded so far.
func (l *requestLog) forget() {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.total, l.refused, l.anon, l.blobHEAD = 0, nil, nil, map[string]int{}
}

type statusRecorder struct {
	http.ResponseWriter
	code int
}

func (s *statusRecorder) WriteHeader(code int) {
	s.code = code
	s.ResponseWriter.WriteHeader(code)
}

// TestBasicAuthRoundTrips creates a bundle from, and pushes and syncs one
// to, a distribution registry with htpasswd auth, which checks a bcrypt hash on every request
// that carries credentials (about 70 ms each at htpasswd -B's cost), so
// that the count of requests decides the time. Each run meets the
// registry's Basic challenge once (one 401; every other request carries
// the credentials) and asks once whether the target holds each blob. On
// the old code, the uploads' own auth client met the challenge again (a
// second 401 in a push, two or more in a sync, one per racing upload), a
// create's first requests (one an image, at once) each met it (five 401s),
// and a sync asked for each blob twice: ahead of its upload, then again in
// its upload's turn.
func TestBasicAuthRoundTrips(t *testing.T) {
	t.Parallel()
	s := newSignedSample(t, sample.Spec{Layers: 3}, 0)
	ctx := context.Background()
	plain := testutil.Registry(t)
	if _, err := mirror.Push(ctx, mirror.PushOptions{Now: testNow, Source: s.dir, Reference: plain + "/stellaops/mirror-bundle",
		Client: testutil.Client(t), Transfer: transferOpts()}); err != nil {
		t.Fatal(err)
	}
	var forget func()
	runs := map[string]func(host string, client *remote.Client) error{
		"create": func(host string, client *remote.Client) error {
			// The release is pushed into the registry by a client of its
			// own, which met the challenge then.
			pusher, err := remote.New(client.Options())
			if err != nil {
				return err
			}
			rel, err := sample.Push(ctx, sample.Spec{Registry: host, Layers: 3}, func(repo string) (sample.Pusher, error) { return pusher.Repository(host + "/" + repo) })
			if err != nil {
				return err
			}
			releaseFile, advisories, err := rel.WriteFiles(t.TempDir())
			if err != nil {
				return err
			}
			forget() // the requests counted are create's
			opts := createOpts(t, releaseFile, advisories, filepath.Join(t.TempDir(), "bundle"))
			opts.Client = client
			_, err = mirror.Create(ctx, opts)
			return err
		},
		"push": func(host string, client *remote.Client) error {
			_, err := mirror.Push(ctx, mirror.PushOptions{Now: testNow, Source: s.dir, Reference: host + "/stellaops/mirror-bundle", Client: client, Transfer: transferOpts()})
			return err
		},
		"sync": func(host string, client *remote.Client) error {
			_, err := mirror.Sync(ctx, mirror.SyncOptions{Now: testNow, Source: plain + "/stellaops/mirror-bundle:" + s.rel.Spec.Version,
				Destination: host + "/stellaops/mirror-bundle", Trust: trustKeys(s.pub), Client: client, Transfer: transferOpts()})
			return err
		},
	}
	for name, run := range runs {
		t.Run(name, func(t *testing.T) {
			log := &requestLog{blobHEAD: map[string]int{}}
			forget = log.forget
			registry := testutil.DistributionWith(t, testutil.DistributionOptions{Htpasswd: testutil.Htpasswd(t, t.TempDir(), "mirror", "s3cret")})
			host := testutil.ProxyWrapped(t, registry, log.wrap)
			// Only the auth registry has credentials; the other is anonymous.
			client, err := remote.New(remote.Options{PlainHTTP: true, ConfigFile: testutil.DockerConfig(t, host, "mirror", "s3cret"), Retries: 1})
			if err != nil {
				t.Fatal(err)
			}
			if err := run(host, client); err != nil {
				t.Fatal(err)
			}
			log.mu.Lock()
			defer log.mu.Unlock()
			if len(log.refused) != 1 || len(log.anon) != 1 {
				t.Errorf("%d requests, %d answered 401 %q, %d sent without credentials %q; want the first alone", log.total, len(log.refused), log.refused, len(log.anon), log.anon)
			}
			for path, n := range log.blobHEAD {
				if n > 1 {
					t.Errorf("HEAD %s sent %d times", path, n)
				}
			}
			t.Logf("%s: %d requests, %d blob HEADs", name, log.total, len(log.blobHEAD))
		})
	}
}
