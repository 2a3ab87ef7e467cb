package mirror_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stellaops/mirror/internal/sample"
	"github.com/stellaops/mirror/internal/testutil"
	"github.com/stellaops/mirror/pkg/errdef"
	"github.com/stellaops/mirror/pkg/mirror"
)

// The generation check (before anything is placed, and again before the
// bundle's tag is written) lists the bundle repository's tags and reads
// the tag the bundle goes under whether listed or not. It read that tag
// only once the list was answered: a round trip more, one of them on the
// way to the bundle's tag. Both now go at once.
func TestGenerationCheckReadsTheTagBesideTheList(t *testing.T) {
	t.Parallel()
	s := newSignedSample(t, sample.Spec{}, 0)
	const repo = "/v2/stellaops/mirror-bundle/"
	tag := repo + "manifests/" + s.rel.Spec.Version
	together := testutil.NewBarrier(2)
	together.Hold(func(r *http.Request) bool {
		return r.Method == http.MethodGet && (r.URL.Path == repo+"tags/list" || r.URL.Path == tag)
	})
	host := testutil.RegistryWrapped(t, together.Wrap)

	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	wait := startPush(ctx, t, s, host, trustKeys(s.pub))
	if err := together.Wait(ctx); err != nil {
		t.Errorf("the tag list and the bundle's tag: %v", err)
	}
	res := wait()
	if d, err := orasRepo(t, host, "stellaops/mirror-bundle").Resolve(ctx, s.rel.Spec.Version); err != nil || d.Digest != res.Root {
		t.Errorf("bundle tag names %s (%v), want the root %s", d.Digest, err, res.Root)
	}
}

// The bundle's tag is read before the tag list is answered, as a tag that
// may not be there; but where the list names it and the registry then
// says it is not there, the generation check cannot tell what the
// repository holds, and fails, naming the tag, as it did when the tag was
// read after the list.
func TestGenerationCheckFailsOnListedTagNotThere(t *testing.T) {
	t.Parallel()
	s := newSignedSample(t, sample.Spec{}, 0)
	const repo = "/v2/stellaops/mirror-bundle/"
	tag := repo + "manifests/" + s.rel.Spec.Version
	var reads atomic.Int32
	host := testutil.RegistryWrapped(t, func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			switch {
			case r.Method == http.MethodGet && r.URL.Path == repo+"tags/list":
				w.Header().Set("Content-Type", "application/json")
				fmt.Fprintf(w, `{"name":"stellaops/mirror-bundle","tags":[%q]}`, s.rel.Spec.Version)
			case (r.Method == http.MethodGet || r.Method == http.MethodHead) && r.URL.Path == tag:
				reads.Add(1)
				w.Header().Set("Content-Type", "application/json")
				w.WriteHeader(http.StatusNotFound)
				fmt.Fprint(w, `{"errors":[{"code":"MANIFEST_UNKNOWN","message":"manifest unknown"}]}`)
			default:
				next.ServeHTTP(w, r)
			}
		})
	})
	_, err := mirror.Push(context.Background(), mirror.PushOptions{Now: testNow, Source: s.dir, Reference: host + "/stellaops/mirror-bundle",
		Trust: trustKeys(s.pub), Client: testutil.Client(t), Transfer: transferOpts()})
	if !errors.Is(err, errdef.ErrNotFound) || !strings.Contains(err.Error(), "stellaops/mirror-bundle:"+s.rel.Spec.Version) {
		t.Fatalf("push where the tag list names %s and the registry has no such tag: %v, want a not-found error naming the tag", s.rel.Spec.Version, err)
	}
	// Read again while it may be being written (listedTagRereads), then
	// given up.
	if n := reads.Load(); n != 6 {
		t.Errorf("the listed tag read %d times, want 6", n)
	}
}
