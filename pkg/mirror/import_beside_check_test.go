package mirror_test

import (
	"bytes"
	"context"
	"errors"
	"io/fs"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stellaops/mirror/internal/sample"
	"github.com/stellaops/mirror/internal/testutil"
	"github.com/stellaops/mirror/pkg/errdef"
	"github.com/stellaops/mirror/pkg/mirror"
)

// checkWatch stands in front of a registry once armed: it holds the
// generation check's read of the held root's referrers until the placement
// asks whether the target holds a blob (a HEAD), and counts the writes,
// and those sent before that read was answered (early). The HEAD comes
// only if the placement asks beside the check; otherwise the read goes
// after a safety-net wait, and overlapped says so.
type checkWatch struct {
	heldReferrers string
	armed         atomic.Bool
	headOnce      sync.Once
	head          chan struct{}
	overlapped    atomic.Bool
	answered      atomic.Bool
	writes        atomic.Int32
	early         atomic.Int32
	// first is the first request once armed ("GET /v2/…").
	first atomic.Pointer[string]
}

func newCheckWatch() *checkWatch { return &checkWatch{head: make(chan struct{})} }

// arm starts watching, held the root the target holds.
func (c *checkWatch) arm(held *mirror.PlaceResult) {
	c.heldReferrers = "/v2/stellaops/mirror-bundle/referrers/" + held.Root.String()
	c.armed.Store(true)
}

func (c *checkWatch) wrap(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if c.armed.Load() {
			req := r.Method + " " + r.URL.Path
			c.first.CompareAndSwap(nil, &req)
			switch {
			case r.Method == http.MethodHead && strings.Contains(r.URL.Path, "/blobs/"):
				c.headOnce.Do(func() { close(c.head) })
			case r.Method == http.MethodGet && r.URL.Path == c.heldReferrers:
				select {
				case <-c.head:
					c.overlapped.Store(true)
				case <-time.After(10 * time.Second):
				case <-r.Context().Done():
					return
				}
				next.ServeHTTP(w, r)
				c.answered.Store(true)
				return
			case r.Method != http.MethodGet && r.Method != http.MethodHead:
				c.writes.Add(1)
				if !c.answered.Load() {
					c.early.Add(1)
				}
			}
		}
		next.ServeHTTP(w, r)
	})
}

// releaseAndNext makes a signed release and the next one (a generation
// later, 2025.11.0), which verifies under the first one's key too.
func releaseAndNext(t testing.TB) (release, next *signedSample) {
	release = newSignedSample(t, sample.Spec{}, 0)
	next = newSignedSample(t, sample.Spec{Version: "2025.11.0", Variant: 7}, fixedTime.Unix()+1)
	sign(t, next.dir, release.priv)
	return release, next
}

// watchedHolding is a registry holding the bundle dir (imported, trusted
// under pub), watched from then on.
func watchedHolding(t *testing.T, dir, pub string) (string, *checkWatch) {
	watch := newCheckWatch()
	target := testutil.RegistryWrapped(t, watch.wrap)
	held, err := mirror.Import(context.Background(), importOpts(t, dir, target, pub))
	if err != nil {
		t.Fatal(err)
	}
	watch.arm(held)
	return target, watch
}

// The generation check reads the target's bundles before anything is
// written: over a held release, the tag list, the tags, then the held
// root, its referrers and its envelope, some five round trips. Whether
// the target holds each blob and manifest was asked only after it; now it
// is asked beside it, and only the writes wait for the check.
func TestImportAsksBesideTheGenerationCheck(t *testing.T) {
	t.Parallel()
	s, newer := releaseAndNext(t)
	target, watch := watchedHolding(t, s.dir, s.pub)
	res, err := mirror.Import(context.Background(), importOpts(t, newer.dir, target, s.pub))
	if err != nil {
		t.Fatalf("import of the newer bundle: %v", err)
	}
	if !watch.overlapped.Load() {
		t.Error("no blob was asked for while the generation check read the held root's referrers")
	}
	if n := watch.early.Load(); n != 0 {
		t.Errorf("%d writes before the generation check had read the held root's referrers, want none", n)
	}
	// A host's first request goes alone (its challenge): the check's, the
	// longer chain, not a placement's HEAD.
	if first := *watch.first.Load(); !strings.HasPrefix(first, "GET /v2/stellaops/mirror-bundle/tags/list") &&
		first != "GET /v2/stellaops/mirror-bundle/manifests/"+newer.rel.Spec.Version {
		t.Errorf("the import's first request was %q, want the generation check's tag list or tag", first)
	}
	if n := watch.writes.Load(); n == 0 || res.Tags == 0 {
		t.Errorf("import of a newer bundle: %d writes, %d tags written; want some", n, res.Tags)
	}
	if d, err := orasRepo(t, target, "stellaops/mirror-bundle").Resolve(context.Background(), newer.rel.Spec.Version); err != nil || d.Digest != res.Root {
		t.Errorf("bundle tag names %s (%v), want the root %s", d.Digest, err, res.Root)
	}
}

// An older bundle is still refused before anything is written, though the
// placement asked what the target holds beside the check.
func TestRollbackRefusedBeforeAnyWriteBesideTheCheck(t *testing.T) {
	t.Parallel()
	s, newer := releaseAndNext(t)
	target, watch := watchedHolding(t, newer.dir, s.pub)
	before := testutil.Tags(t, target)
	for _, src := range []string{s.dir, s.pack(t, ".tar"), s.foreign(t, ".tar.gz")} {
		_, err := mirror.Import(context.Background(), importOpts(t, src, target, s.pub))
		if !errors.Is(err, errdef.ErrGeneration) {
			t.Fatalf("import of an older bundle from %s: %v, want ErrGeneration", src, err)
		}
	}
	// An advisories directory not there yet is not made either (nor its
	// parents): found by review, where it was made before the check
	// passed. It waits for the check.
	advisories := filepath.Join(t.TempDir(), "scanner", "advisories")
	opts := importOpts(t, s.dir, target, s.pub)
	opts.AdvisoriesDir = advisories
	if _, err := mirror.Import(context.Background(), opts); !errors.Is(err, errdef.ErrGeneration) {
		t.Fatalf("import of an older bundle with --advisories-dir: %v, want ErrGeneration", err)
	}
	if _, err := os.Stat(filepath.Dir(advisories)); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("import of an older bundle made the advisories directory's parent %s (%v)", filepath.Dir(advisories), err)
	}
	// Nor is a side file it would leave behind told of (public-key.pem
	// replaced on the medium): the bundle is not taken.
	_, otherPub := testKeys(t, "substitute")
	pem, err := os.ReadFile(otherPub)
	if err != nil {
		t.Fatal(err)
	}
	writeFile(t, filepath.Join(s.dir, "public-key.pem"), string(pem))
	var logs bytes.Buffer
	opts = importOpts(t, s.dir, target, s.pub)
	opts.Logger = slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelWarn}))
	if _, err := mirror.Import(context.Background(), opts); !errors.Is(err, errdef.ErrGeneration) {
		t.Fatalf("import of an older bundle with a side file replaced: %v, want ErrGeneration", err)
	}
	if strings.Contains(logs.String(), "bundle files not carried") {
		t.Errorf("import of an older bundle warned of the side files it would leave behind:\n%s", logs.String())
	}
	if !watch.overlapped.Load() {
		t.Error("no blob was asked for while the generation check read the held root's referrers")
	}
	if n := watch.writes.Load(); n != 0 {
		t.Errorf("%d writes reached the registry for refused imports, want none", n)
	}
	if after := testutil.Tags(t, target); !reflect.DeepEqual(before, after) {
		t.Errorf("tags changed by refused imports:\nbefore %v\nafter  %v", before, after)
	}
}
