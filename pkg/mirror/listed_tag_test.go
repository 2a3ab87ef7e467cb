package mirror_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"slices"
	"sync/atomic"
	"testing"

	"github.com/stellaops/mirror/internal/sample"
	"github.com/stellaops/mirror/internal/testutil"
	"github.com/stellaops/mirror/pkg/mirror"
)

// A registry lists a tag from the moment it starts writing it
// (distribution: the tag's directory, then the link it resolves by), so
// two imports of one release into one registry could meet a listed tag
// that was not there yet, and the generation check failed the second
// ("read …:2025.10.0: not found"). A listed tag that is not there is now
// read again a few times before it fails the check.
func TestListedTagReadAgainWhileBeingWritten(t *testing.T) {
	s := newSignedSample(t, sample.Spec{}, 0)
	tag := "/v2/stellaops/mirror-bundle/manifests/" + s.rel.Spec.Version
	var notYet atomic.Int32
	host := testutil.RegistryWrapped(t, func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.Method == http.MethodGet && r.URL.Path == tag && notYet.Add(-1) >= 0 {
				w.Header().Set("Content-Type", "application/json")
				w.WriteHeader(http.StatusNotFound)
				w.Write([]byte(`{"errors":[{"code":"MANIFEST_UNKNOWN","message":"manifest unknown"}]}`))
				return
			}
			next.ServeHTTP(w, r)
		})
	})
	push := func() (*mirror.PlaceResult, error) {
		return mirror.Push(context.Background(), mirror.PushOptions{Now: testNow, Source: s.dir, Reference: host + "/stellaops/mirror-bundle",
			Trust: trustKeys(s.pub), Client: testutil.Client(t), Transfer: transferOpts()})
	}
	first, err := push()
	if err != nil {
		t.Fatal(err)
	}
	notYet.Store(3) // the tag is listed; its first three reads say it is not there
	again, err := push()
	if err != nil {
		t.Fatalf("push where the listed tag is there only from its fourth read: %v", err)
	}
	if n := notYet.Load(); n >= 0 {
		t.Errorf("%d of the tag's answers \"not there\" not asked for", n+1)
	}
	if again.Root != first.Root {
		t.Errorf("second push placed root %s, want %s", again.Root, first.Root)
	}
	if d, err := orasRepo(t, host, "stellaops/mirror-bundle").Resolve(context.Background(), s.rel.Spec.Version); err != nil || d.Digest != first.Root {
		t.Errorf("bundle tag names %s (%v), want the root %s", d.Digest, err, first.Root)
	}
}

// A tag deleted between the tag list and its read (another operator's
// clean-up, a retention job) failed the generation check: "listed, but
// still not there after 6 reads". The tags are now listed once more, and
// a tag that list no longer names counts as a tag never listed: nothing.
func TestListedTagDeletedSinceTheListIsNotCounted(t *testing.T) {
	t.Parallel()
	s := newSignedSample(t, sample.Spec{}, 0)
	const repo = "/v2/stellaops/mirror-bundle/"
	var deleteOnRead atomic.Bool
	var oldReads atomic.Int32
	host := testutil.RegistryWrapped(t, func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.URL.Path == repo+"manifests/old" && r.Method != http.MethodDelete {
				oldReads.Add(1)
				if deleteOnRead.CompareAndSwap(true, false) {
					del := httptest.NewRequest(http.MethodDelete, r.URL.Path, nil)
					rec := httptest.NewRecorder()
					next.ServeHTTP(rec, del)
					if rec.Code != http.StatusAccepted {
						t.Errorf("delete the tag old: %d %s", rec.Code, rec.Body)
					}
				}
			}
			next.ServeHTTP(w, r)
		})
	})
	ctx := context.Background()
	push := func() *mirror.PlaceResult {
		res, err := mirror.Push(ctx, mirror.PushOptions{Now: testNow, Source: s.dir, Reference: host + "/stellaops/mirror-bundle",
			Trust: trustKeys(s.pub), Client: testutil.Client(t), Transfer: transferOpts()})
		if err != nil {
			t.Fatalf("push: %v", err)
		}
		return res
	}
	first := push()
	bundles := orasRepo(t, host, "stellaops/mirror-bundle")
	root, err := bundles.Resolve(ctx, first.Root.String())
	if err != nil {
		t.Fatal(err)
	}
	if err := bundles.Tag(ctx, root, "old"); err != nil {
		t.Fatal(err)
	}
	oldReads.Store(0)
	deleteOnRead.Store(true) // listed, then deleted as it is read
	again := push()
	if again.Root != first.Root {
		t.Errorf("second push placed root %s, want %s", again.Root, first.Root)
	}
	// Read once, by the push's first generation check, which then found
	// it gone from a second list; the second check's list no longer names
	// it.
	if n := oldReads.Load(); n != 1 {
		t.Errorf("the deleted tag read %d times, want 1 (the second check's list no longer names it)", n)
	}
	var tags []string
	if err := bundles.Tags(ctx, "", func(page []string) error { tags = append(tags, page...); return nil }); err != nil {
		t.Fatal(err)
	}
	if slices.Contains(tags, "old") || !slices.Contains(tags, s.rel.Spec.Version) {
		t.Errorf("tags after the push: %v, want %s and not old", tags, s.rel.Spec.Version)
	}
}
