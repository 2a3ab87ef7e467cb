package mirror_test

import (
	"context"
	"errors"
	"net/http"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/opencontainers/go-digest"

	"github.com/stellaops/mirror/internal/sample"
	"github.com/stellaops/mirror/internal/testutil"
	"github.com/stellaops/mirror/pkg/errdef"
	"github.com/stellaops/mirror/pkg/mirror"
)

// A registry bundle's image manifests are fetched while its signing is
// read, before its signature is weighed, by the digests its root pins. A
// root anyone who may push can forge, and it can list up to 128 MiB of
// documents: that fetch stops at a bound (16 MiB; lowered here), and what
// is past it is fetched once the signing verified, each document once.
//
// The source holds the root's referrers listing, which the signing waits
// for, until the fetch ahead has ended, so the fetch goes as far as it
// will before any refusal: with the bound out of reach (the control) it
// fetches every image manifest before the wrong key is refused.
func TestDocumentsFetchedBeforeTheSignatureAreBounded(t *testing.T) {
	s := newSignedSample(t, sample.Spec{Images: 12}, 0)
	_, other := testKeys(t, "other")
	images := imageManifests(s.rel)
	var (
		mu      sync.Mutex
		fetched = map[digest.Digest]int{} // image manifest GETs
		bytes   int64                     // their bytes
	)
	// aheadDone is closed when the pull's fetch ahead has ended.
	var aheadDone atomic.Pointer[chan struct{}]
	var holding atomic.Bool
	source := testutil.RegistryWrapped(t, func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if holding.Load() && r.Method == http.MethodGet && strings.Contains(r.URL.Path, "/referrers/") {
				select {
				case <-*aheadDone.Load():
				case <-r.Context().Done():
					return
				}
			}
			i := strings.LastIndex(r.URL.Path, "/manifests/")
			if dg := digest.Digest(r.URL.Path[i+len("/manifests/"):]); i >= 0 && r.Method == http.MethodGet && slices.Contains(images, dg) {
				cw := &countingWriter{ResponseWriter: w}
				next.ServeHTTP(cw, r)
				mu.Lock()
				fetched[dg]++
				bytes += cw.n
				mu.Unlock()
				return
			}
			next.ServeHTTP(w, r)
		})
	})
	ref := source + "/stellaops/mirror-bundle:" + s.rel.Spec.Version
	pushSampleTo(t, s, ref)
	holding.Store(true)
	pull := func(pub string) error {
		mu.Lock()
		clear(fetched)
		bytes = 0
		mu.Unlock()
		ch := make(chan struct{})
		aheadDone.Store(&ch)
		_, err := mirror.Pull(context.Background(), mirror.PullOptions{Reference: ref, Output: filepath.Join(t.TempDir(), "pulled"),
			Trust: trustKeys(pub), Client: testutil.Client(t), Transfer: transferOpts()})
		return err
	}
	done := func() { close(*aheadDone.Load()) }

	// The control: every image manifest is within the bound, and all of
	// them are fetched before the refusal.
	mirror.SetMaxDocsAhead(t, 16<<20, done)
	if err := pull(other); !errors.Is(err, errdef.ErrSignature) {
		t.Fatalf("pull with another key: %v, want a signature refusal", err)
	}
	all := bytes
	if len(fetched) != len(images) {
		t.Fatalf("control: %d of %d image manifests fetched ahead of the refusal, want all (the hold did not work)", len(fetched), len(images))
	}

	// A third of them: no more is fetched before the refusal.
	bound := all / 3
	mirror.SetMaxDocsAhead(t, bound, done)
	if err := pull(other); !errors.Is(err, errdef.ErrSignature) {
		t.Fatalf("pull with another key, bounded: %v, want a signature refusal", err)
	}
	if bytes > bound || bytes == 0 {
		t.Errorf("image manifests fetched before the refusal: %d bytes, want some and at most the bound %d (of %d)", bytes, bound, all)
	}

	// With the right key the rest is fetched after the signing, and no
	// document twice.
	if err := pull(s.pub); err != nil {
		t.Fatalf("pull with the bundle's key, bounded: %v", err)
	}
	for _, dg := range images {
		if fetched[dg] != 1 {
			t.Errorf("image manifest %s fetched %d times by the bounded pull, want once", dg, fetched[dg])
		}
	}
	if bytes != all {
		t.Errorf("bounded pull fetched %d bytes of image manifests, want all %d", bytes, all)
	}
}

// countingWriter counts the bytes of an answer's body.
type countingWriter struct {
	http.ResponseWriter
	n int64
}

func (w *countingWriter) Write(p []byte) (int, error) {
	n, err := w.ResponseWriter.Write(p)
	w.n += int64(n)
	return n, err
}
