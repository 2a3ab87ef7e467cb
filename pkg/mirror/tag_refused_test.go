package mirror_test

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/opencontainers/go-digest"

	"github.com/stellaops/mirror/internal/sample"
	"github.com/stellaops/mirror/internal/testutil"
	"github.com/stellaops/mirror/pkg/bundle"
	"github.com/stellaops/mirror/pkg/errdef"
	"github.com/stellaops/mirror/pkg/mirror"
)

// tagRefuser stands in front of a registry and, while on, answers 403
// DENIED ("tag is immutable", as Harbor's tag immutability rules do) to
// every tag write whose path holds repo ("" for every repository).
type tagRefuser struct {
	on   atomic.Bool
	repo string
}

func (f *tagRefuser) wrap(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if f.on.Load() && tagPut(r) && strings.Contains(r.URL.Path, "/v2/"+f.repo) {
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusForbidden)
			w.Write([]byte(`{"errors":[{"code":"DENIED","message":"tag is immutable"}]}`))
			return
		}
		next.ServeHTTP(w, r)
	})
}

// heldRelease is a registry behind a tagRefuser holding a release
// (older, imported), and a newer bundle of the same release version, with
// other images, signed with older's key.
type heldRelease struct {
	host         string
	older, newer *signedSample
	olderRoot    digest.Digest
}

func newHeldRelease(t *testing.T, refuser *tagRefuser) *heldRelease {
	t.Helper()
	h := &heldRelease{older: newSignedSample(t, sample.Spec{}, 1), newer: newSignedSample(t, sample.Spec{Variant: 1}, 2)}
	sign(t, h.newer.dir, h.older.priv)
	h.host = testutil.RegistryWrapped(t, refuser.wrap)
	res, err := mirror.Import(context.Background(), importOpts(t, h.older.dir, h.host, h.older.pub))
	if err != nil {
		t.Fatal(err)
	}
	h.olderRoot = res.Root
	return h
}

// importNewer imports the newer bundle, writing one tag at a time (in the
// images' order).
func (h *heldRelease) importNewer(t *testing.T) (*mirror.PlaceResult, error) {
	opts := importOpts(t, h.newer.dir, h.host, h.older.pub)
	opts.Transfer.Concurrency = 1
	return mirror.Import(context.Background(), opts)
}

// A registry that refuses a tag write over a tag naming an earlier
// release (a tag immutability rule, no push right there) failed the
// import as a digest mismatch (exit 2: "the registry rewrote the manifest,
// or serves a stale tag"), whose advice is that the media was tampered
// with: the read-back found the old manifest before the refusal was
// looked at (found by review). The refusal is the error, and every tag
// names what it named.
func TestRefusedTagWriteIsTheRefusal(t *testing.T) {
	t.Parallel()
	refuser := &tagRefuser{}
	h := newHeldRelease(t, refuser)
	refuser.on.Store(true)
	_, err := h.importNewer(t)
	if err == nil || errors.Is(err, errdef.ErrDigestMismatch) || !strings.Contains(err.Error(), "tag is immutable") {
		t.Fatalf("import whose tag writes are refused: %v, want the refusal, not a digest mismatch", err)
	}
	assertTagsName(t, h.host, h.older)
}

// A registry that refuses one repository's tag fails the import, the tags
// before it written: no registry writes several tags as one. Those
// written name the new bundle's images, whole, and the bundle's own tag,
// which the generation check and inventory read, is not written (it goes
// last). The error says so, and the same command run again once the
// registry takes the tag completes the import.
func TestTagRefusedMidwayTellsWhatIsWritten(t *testing.T) {
	t.Parallel()
	refuser := &tagRefuser{}
	h := newHeldRelease(t, refuser)
	// The second image's: the first's tag is written before it.
	refuser.repo = h.older.rel.Images[1].Repository
	refuser.on.Store(true)
	_, err := h.importNewer(t)
	if err == nil || !strings.Contains(err.Error(), "tag is immutable") || !strings.Contains(err.Error(), "tags written before it name the new bundle's images, whole; the bundle's own tag is not written: run the same command again") {
		t.Fatalf("import with one repository's tag refused: %v, want the refusal and what was written", err)
	}
	version := h.older.rel.Spec.Version
	if got := resolveIn(t, h.host, bundle.DefaultBundleRepository, version); got != h.olderRoot {
		t.Errorf("the bundle's tag names %s after a failed import, want the older bundle's root %s", got, h.olderRoot)
	}
	refuser.on.Store(false)
	res, err := h.importNewer(t)
	if err != nil {
		t.Fatalf("import run again: %v", err)
	}
	if got := resolveIn(t, h.host, bundle.DefaultBundleRepository, version); got != res.Root {
		t.Errorf("the bundle's tag names %s after the import ran again, want %s", got, res.Root)
	}
	assertTagsName(t, h.host, h.newer)
}

// assertTagsName checks that every image of s is tagged with its release
// version on host, naming its own manifest.
func assertTagsName(t *testing.T, host string, s *signedSample) {
	t.Helper()
	for _, img := range s.rel.Images {
		if got := resolveIn(t, host, img.Repository, s.rel.Spec.Version); got != img.Descriptor.Digest {
			t.Errorf("%s:%s names %s, want %s", img.Repository, s.rel.Spec.Version, got, img.Descriptor.Digest)
		}
	}
}

// resolveIn is what repo:tag names on host.
func resolveIn(t *testing.T, host, repo, tag string) digest.Digest {
	t.Helper()
	r, err := testutil.Client(t).Repository(host + "/" + repo)
	if err != nil {
		t.Fatal(err)
	}
	d, err := r.Resolve(context.Background(), tag)
	if err != nil {
		t.Fatalf("%s:%s: %v", repo, tag, err)
	}
	return d.Digest
}
