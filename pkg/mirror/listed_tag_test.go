package mirror_test

import (
	"context"
	"net/http"
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
