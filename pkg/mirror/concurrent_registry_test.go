package mirror_test

import (
	"context"
	"errors"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/stellaops/mirror/internal/sample"
	"github.com/stellaops/mirror/internal/testutil"
	"github.com/stellaops/mirror/pkg/bundle"
	"github.com/stellaops/mirror/pkg/errdef"
	"github.com/stellaops/mirror/pkg/mirror"
	"github.com/stellaops/mirror/pkg/remote"
)

// TestLoginTwoRegistriesAtOnce: `login` read config.json when it started
// and wrote it back whole, with its entry added, once the registry had
// accepted the credentials: a second login, to another registry, that
// saved its entry meanwhile lost it (two CI jobs logging in at once, the
// lost update docker has too). Here the first registry holds the first
// login's check until the second login has saved; both entries must be in
// config.json after.
func TestLoginTwoRegistriesAtOnce(t *testing.T) {
	ctx := context.Background()
	reached, release := make(chan struct{}), make(chan struct{})
	var once sync.Once
	slow := testutil.RegistryWrapped(t, func(h http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.URL.Path == "/v2/" {
				once.Do(func() {
					close(reached)
					<-release
				})
			}
			h.ServeHTTP(w, r)
		})
	})
	fast := testutil.Registry(t)
	cfg := filepath.Join(t.TempDir(), "config.json")
	if err := os.WriteFile(cfg, []byte("{}"), 0o600); err != nil {
		t.Fatal(err)
	}
	// Two processes: each reads the config when it starts.
	client := func() *remote.Client {
		c, err := remote.New(remote.Options{PlainHTTP: true, ConfigFile: cfg, Retries: 1})
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	first, second := client(), client()
	done := make(chan error, 1)
	go func() {
		done <- mirror.Login(ctx, mirror.LoginOptions{Registry: slow, Username: "a", Password: "pa", Client: first})
	}()
	<-reached
	err := mirror.Login(ctx, mirror.LoginOptions{Registry: fast, Username: "b", Password: "pb", Client: second})
	close(release)
	if err != nil {
		t.Fatal(err)
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	store := client().Store()
	for host, user := range map[string]string{slow: "a", fast: "b"} {
		if cred, err := store.Get(ctx, host); err != nil || cred.Username != user {
			data, _ := os.ReadFile(cfg)
			t.Errorf("%s: credentials %q after both logins (%v); config.json: %s", host, cred.Username, err, data)
		}
	}
}

// TestImportOlderRacingNewer: imports of generations N and N+1 of one
// release at once. N checked the registry's generation when it started,
// then sent its blobs for as long as that took; N+1, started later,
// finished first; then N wrote its tags over N+1's, a rollback no one was
// told of (N's read-back of its own tags found them as written). The
// generation is checked again before the first tag is written. Here N is
// held at its first manifest until N+1 is imported: N is then refused
// (ErrGeneration) and every tag still names N+1's content. The registry
// API has no compare-and-swap for tags, so a window of a few requests
// remains between that check and the last tag written.
func TestImportOlderRacingNewer(t *testing.T) {
	older := newSignedSample(t, sample.Spec{}, 0)
	newer := newSignedSample(t, sample.Spec{Variant: 7}, fixedTime.Unix()+1)
	// Signed with older's key too: only bundles that verify under the
	// import's trust count as held.
	sign(t, newer.dir, older.priv)
	version := newer.rel.Spec.Version
	if older.rel.Spec.Version != version {
		t.Fatal("the samples must share their release version")
	}
	host := testutil.Registry(t)
	reached, release := make(chan struct{}), make(chan struct{})
	var once sync.Once
	slow := testutil.ProxyWrapped(t, host, func(h http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.Method == http.MethodPut && strings.Contains(r.URL.Path, "/manifests/") {
				once.Do(func() {
					close(reached)
					<-release
				})
			}
			h.ServeHTTP(w, r)
		})
	})
	ctx := context.Background()
	done := make(chan error, 1)
	go func() {
		_, err := mirror.Import(ctx, importOpts(t, older.dir, slow, older.pub))
		done <- err
	}()
	<-reached
	res, err := mirror.Import(ctx, importOpts(t, newer.dir, host, newer.pub))
	close(release)
	if err != nil {
		t.Fatal(err)
	}
	if err := <-done; !errors.Is(err, errdef.ErrGeneration) {
		t.Fatalf("import of generation N after N+1 was imported while it ran: %v, want ErrGeneration", err)
	}
	client := testutil.Client(t)
	b, _ := client.Repository(host + "/" + bundle.DefaultBundleRepository)
	if root, err := b.Resolve(ctx, version); err != nil || root.Digest != res.Root {
		t.Errorf("%s:%s names %s (%v), want the newer bundle %s", bundle.DefaultBundleRepository, version, root.Digest, err, res.Root)
	}
	for _, img := range newer.rel.Images {
		dst, _ := client.Repository(host + "/" + img.Repository)
		if d, err := dst.Resolve(ctx, version); err != nil || d.Digest != img.Descriptor.Digest {
			t.Errorf("%s:%s names %s (%v), want the newer %s", img.Repository, version, d.Digest, err, img.Descriptor.Digest)
		}
	}
}

// TestImportSameBundleTwiceAtOnce: two imports of one bundle into one
// registry at once (an import started twice) both succeed, and the
// registry holds the bundle as one import leaves it, with the referrers
// API and with the fallback tag.
func TestImportSameBundleTwiceAtOnce(t *testing.T) {
	s := newSignedSample(t, sample.Spec{}, 0)
	for name, host := range map[string]string{"referrers API": testutil.Registry(t), "fallback tag": testutil.RegistryNoReferrers(t)} {
		t.Run(name, func(t *testing.T) {
			for range 3 {
				var wg sync.WaitGroup
				res := make([]*mirror.PlaceResult, 2)
				errs := make([]error, 2)
				for i := range 2 {
					wg.Go(func() { res[i], errs[i] = mirror.Import(context.Background(), importOpts(t, s.dir, host, s.pub)) })
				}
				wg.Wait()
				for i := range 2 {
					if errs[i] != nil {
						t.Fatal(errs[i])
					}
				}
				assertImported(t, s, host, res[0])
			}
		})
	}
}
