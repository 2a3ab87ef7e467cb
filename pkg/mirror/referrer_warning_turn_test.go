package mirror_test

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/opencontainers/go-digest"

	"github.com/stellaops/mirror/internal/sample"
	"github.com/stellaops/mirror/internal/testutil"
	"github.com/stellaops/mirror/pkg/bundle"
	"github.com/stellaops/mirror/pkg/errdef"
	"github.com/stellaops/mirror/pkg/layout"
	"github.com/stellaops/mirror/pkg/mirror"
)

// warnLog is a log the logger's goroutines may write at once; warned is
// closed once a line holding its word was written.
type warnLog struct {
	word   string
	mu     sync.Mutex
	b      bytes.Buffer
	once   sync.Once
	warned chan struct{}
}

func (l *warnLog) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if bytes.Contains(p, []byte(l.word)) {
		l.once.Do(func() { close(l.warned) })
	}
	return l.b.Write(p)
}

func (l *warnLog) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// A bundle root's referrers are weighed while the root and its metadata
// are read. A referrer anyone may attach (a signature referrer of two
// layers) is skipped with a warning; a pull whose bundle cannot be read
// (manifest.json not served) must fail on that alone, without that warning
// first, which it gave or not as the registry's answers fell (found by
// review). The warning is held until the root and its metadata are read.
// The registry here answers manifest.json only once the warning was
// written, or, where it is held, after a safety-net wait.
func TestReferrerWarningsWaitForTheRootsRead(t *testing.T) {
	t.Parallel()
	s := newSignedSample(t, sample.Spec{}, 0)
	mfData, err := os.ReadFile(filepath.Join(s.dir, layout.ManifestFile))
	if err != nil {
		t.Fatal(err)
	}
	manifestFile := "/v2/stellaops/mirror-bundle/blobs/" + digest.FromBytes(mfData).String()
	logs := &warnLog{word: "skipped", warned: make(chan struct{})}
	var failing atomic.Bool
	host := testutil.RegistryWrapped(t, func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if failing.Load() && r.Method == http.MethodGet && r.URL.Path == manifestFile {
				select {
				case <-logs.warned:
				case <-time.After(2 * time.Second):
				case <-r.Context().Done():
				}
				http.Error(w, `{"errors":[{"code":"BLOB_UNKNOWN","message":"blob unknown"}]}`, http.StatusNotFound)
				return
			}
			next.ServeHTTP(w, r)
		})
	})
	ref := host + "/stellaops/mirror-bundle:" + s.rel.Spec.Version
	pushSampleTo(t, s, ref)
	repo, err := testutil.Client(t).Repository(ref)
	if err != nil {
		t.Fatal(err)
	}
	root, err := repo.Resolve(context.Background(), s.rel.Spec.Version)
	if err != nil {
		t.Fatal(err)
	}
	pushSignatureReferrer(rawRepo{t: t, host: host, name: bundle.DefaultBundleRepository}, root.Digest,
		[][]byte{[]byte("junk one"), []byte("junk two")}, time.Now())
	pull := func() error {
		_, err := mirror.Pull(context.Background(), mirror.PullOptions{Reference: ref, Output: filepath.Join(t.TempDir(), "pulled"),
			Trust: trustKeys(s.pub), Client: testutil.Client(t), Transfer: transferOpts(),
			Logger: slog.New(slog.NewTextHandler(logs, nil))})
		return err
	}
	failing.Store(true)
	if err := pull(); err == nil {
		t.Fatal("pull with manifest.json not served succeeded")
	} else if strings.Contains(logs.String(), "skipped") {
		t.Errorf("pull refused (%v) warned first about a referrer of a bundle it never read:\n%s", err, logs.String())
	}
	// Read whole, the bundle's pull tells the referrer skipped.
	failing.Store(false)
	if err := pull(); err != nil {
		t.Fatalf("pull: %v", err)
	}
	if !strings.Contains(logs.String(), "referrer of the bundle root skipped") {
		t.Errorf("pull of a bundle with a two-layer signature referrer did not tell it was skipped:\n%s", logs.String())
	}
}

// A sync whose bundle its own plan refuses (its tag would replace an
// image's tag in the destination repository) fails on that alone, without
// the destination's warnings first: the generation check reads the
// destination beside the source, and its warning about a root there that
// does not verify was told as soon as the check was judged, while the
// plan was still being made. It is held until the plan is made. The source
// here serves the images' manifests, which the plan reads, only once the
// warning was written, or, where it is held, after a safety-net wait.
func TestSyncRefusedByItsPlanWarnsNothingOfTheDestination(t *testing.T) {
	t.Parallel()
	s := newSignedSample(t, sample.Spec{}, 0)
	logs := &warnLog{word: "skipped bundle root", warned: make(chan struct{})}
	held := map[string]bool{}
	for _, img := range s.rel.Images {
		held["/v2/"+bundle.DefaultBundleRepository+"/manifests/"+img.Descriptor.Digest.String()] = true
	}
	source := testutil.RegistryWrapped(t, func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.Method == http.MethodGet && held[r.URL.Path] {
				select {
				case <-logs.warned:
				case <-time.After(2 * time.Second):
				case <-r.Context().Done():
				}
			}
			next.ServeHTTP(w, r)
		})
	})
	ref := source + "/stellaops/mirror-bundle:" + s.rel.Spec.Version
	pushSampleTo(t, s, ref)
	// The destination repository is an image's, and holds a bundle signed
	// with a key the sync does not trust: the check warns of it, and
	// passes over it.
	dst := testutil.Registry(t) + "/" + s.rel.Images[0].Repository
	forged := newSignedSample(t, sample.Spec{Version: "2099.1.0", Variant: 9}, 4000000000)
	attacker, _ := testKeys(t, "attacker")
	sign(t, forged.dir, attacker)
	pushSampleTo(t, forged, dst)
	sync := func(images bool) error {
		_, err := mirror.Sync(context.Background(), mirror.SyncOptions{Now: testNow, Source: ref, Destination: dst, Images: images,
			Trust: trustKeys(s.pub), Client: testutil.Client(t), Transfer: transferOpts(),
			Logger: slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelWarn}))})
		return err
	}
	err := sync(true)
	if !errors.Is(err, errdef.ErrUsage) || !strings.Contains(err.Error(), "would replace the tag of image") {
		t.Fatalf("sync --images into an image's repository: %v, want the bundle tag refused", err)
	}
	if strings.Contains(logs.String(), "skipped bundle root") {
		t.Errorf("sync refused by its plan (%v) warned first about the destination:\n%s", err, logs.String())
	}
	// Planned, the same sync without the images tells the root passed over.
	if err := sync(false); err != nil {
		t.Fatalf("sync: %v", err)
	}
	if !strings.Contains(logs.String(), "skipped bundle root") {
		t.Errorf("sync over a root signed with another key did not warn of it:\n%s", logs.String())
	}
}
