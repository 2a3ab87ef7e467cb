package mirror_test

import (
	"context"
	"crypto/sha256"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stellaops/mirror/internal/sample"
	"github.com/stellaops/mirror/internal/testutil"
	"github.com/stellaops/mirror/pkg/mirror"
)

// A registry bundle's signing is read in three round trips after its
// referrers are listed, not seven: both referrers (signature and files) at
// once, then SHA256SUMS, then the envelope and the files at once. Here the
// first of each pair is held until the other has come: on the old code,
// which read each after the one before it, the other never came while the
// first was held, and each hold ran out. pull, sync, inspect, import from
// a registry and the check of every held root read a signing so.
func TestRegistrySigningReadAtOnce(t *testing.T) {
	s := newSignedSample(t, sample.Spec{}, 0)
	blob := map[string]string{} // the signing's blobs' paths, by file name
	for _, name := range []string{"manifest.dsse", "SHA256SUMS.sig", "public-key.pem"} {
		data, err := os.ReadFile(filepath.Join(s.dir, name))
		if err != nil {
			t.Fatal(err)
		}
		blob[name] = fmt.Sprintf("/v2/stellaops/mirror-bundle/blobs/sha256:%x", sha256.Sum256(data))
	}
	var mu sync.Mutex
	on, listed := false, false
	came := map[string]chan struct{}{} // closed when the request first came
	cameFor := func(key string) chan struct{} {
		if came[key] == nil {
			came[key] = make(chan struct{})
		}
		return came[key]
	}
	var peeks []string
	var late []string
	// hold waits, the first time key comes, for other to come.
	hold := func(key, other string) {
		mu.Lock()
		wait := cameFor(other)
		mu.Unlock()
		select {
		case <-wait:
		case <-time.After(5 * time.Second):
			mu.Lock()
			late = append(late, fmt.Sprintf("%s waited 5 s for %s", key, other))
			mu.Unlock()
		}
	}
	host := testutil.RegistryWrapped(t, func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			key := r.Method + " " + r.URL.Path
			mu.Lock()
			counting, first := on, came[key] == nil || !closed(came[key])
			if counting && first {
				close(cameFor(key))
			}
			var peek int
			switch {
			case !counting || !first:
			case strings.Contains(r.URL.Path, "/referrers/"):
				listed = true
			case listed && r.Method == http.MethodGet && strings.Contains(r.URL.Path, "/manifests/sha256:") && len(peeks) < 2:
				peeks = append(peeks, key)
				peek = len(peeks)
			}
			mu.Unlock()
			switch {
			case peek == 1:
				hold(key, "second referrer")
			case peek == 2:
				mu.Lock()
				close(cameFor("second referrer"))
				mu.Unlock()
			case counting && first && r.URL.Path == blob["manifest.dsse"]:
				hold("the envelope", "GET "+blob["public-key.pem"])
			case counting && first && r.URL.Path == blob["public-key.pem"]:
				hold("public-key.pem", "GET "+blob["SHA256SUMS.sig"])
			}
			next.ServeHTTP(w, r)
		})
	})
	ref := host + "/stellaops/mirror-bundle:2025.10.0"
	if _, err := mirror.Push(context.Background(), mirror.PushOptions{Now: testNow, Source: s.dir, Reference: ref,
		Client: testutil.Client(t), Transfer: transferOpts()}); err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	on = true
	mu.Unlock()
	if _, err := mirror.Pull(context.Background(), mirror.PullOptions{Reference: ref, Output: filepath.Join(t.TempDir(), "pulled"),
		Trust: trustKeys(s.pub), Client: testutil.Client(t), Transfer: transferOpts()}); err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	defer mu.Unlock()
	if !listed || len(peeks) != 2 {
		t.Fatalf("referrers listed: %v; referrers read after: %q; want both", listed, peeks)
	}
	if len(late) > 0 {
		t.Fatalf("read one after another: %s", strings.Join(late, "; "))
	}
}

// closed reports whether ch is closed.
func closed(ch chan struct{}) bool {
	select {
	case <-ch:
		return true
	default:
		return false
	}
}
