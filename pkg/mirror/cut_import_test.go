package mirror_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	"golang.org/x/sync/errgroup"
	"oras.land/oras-go/v2/content"

	"github.com/stellaops/mirror/internal/sample"
	"github.com/stellaops/mirror/internal/testutil"
	"github.com/stellaops/mirror/pkg/bundle"
	"github.com/stellaops/mirror/pkg/errdef"
	"github.com/stellaops/mirror/pkg/mirror"
	"github.com/stellaops/mirror/pkg/remote"
)

// cutRun is one run cut at its cut-th write request (0: never): before
// the registry saw it, as a process killed just before sending it, or once
// the registry answered it (after), as one killed before reading the
// answer. Its requests are those of one namespace of the registry.
type cutRun struct {
	cut    int32
	after  bool
	cancel context.CancelFunc
	writes atomic.Int32
	// manifests, if not nil, records which writes were a manifest's or
	// tag's, by their number.
	mu        sync.Mutex
	manifests map[int32]bool
}

// cutter stands in front of a registry and cuts each namespace's run as
// it says.
type cutter struct {
	mu   sync.Mutex
	runs map[string]*cutRun // by namespace, the repositories' first element
}

func (c *cutter) start(namespace string, r *cutRun) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.runs[namespace] = r
}

func (c *cutter) wrap(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		namespace, _, _ := strings.Cut(strings.TrimPrefix(r.URL.Path, "/v2/"), "/")
		c.mu.Lock()
		run := c.runs[namespace]
		c.mu.Unlock()
		if run == nil || r.Method == http.MethodGet || r.Method == http.MethodHead {
			next.ServeHTTP(w, r)
			return
		}
		n := run.writes.Add(1)
		if run.manifests != nil && strings.Contains(r.URL.Path, "/manifests/") {
			run.mu.Lock()
			run.manifests[n] = true
			run.mu.Unlock()
		}
		if n != run.cut {
			next.ServeHTTP(w, r)
			return
		}
		if run.after {
			next.ServeHTTP(w, r)
		}
		run.cancel()
		// The answer never reaches the run: its connection dies.
		if conn, _, err := http.NewResponseController(w).Hijack(); err == nil {
			conn.Close()
		}
	})
}

// blobStride is how many of an import's blob requests
// TestImportCutAtAnyWriteLeavesNoTagOnPartialContent passes over between
// two cuts: a cut among the blobs leaves no manifest at all.
const blobStride = 12

// An import ended at any of its writes leaves no tag naming content that
// is not all there: every tag of every repository it writes resolves to a
// manifest whose whole graph the repository holds, and the bundle's tag
// is there only once every image's tag is. The import is cut before the
// registry saw each manifest and tag write it makes, and one blob request
// in blobStride; and after the registry answered one manifest or tag write
// in three, where it is run again and must complete. Each cut goes to a
// namespace of its own of one registry (the CNCF distribution registry,
// which links each blob to the repositories that hold it).
func TestImportCutAtAnyWriteLeavesNoTagOnPartialContent(t *testing.T) {
	t.Parallel()
	s := newSignedSample(t, sample.Spec{}, 0)
	c := &cutter{runs: map[string]*cutRun{}}
	host := testutil.ProxyWrapped(t, testutil.Distribution(t), c.wrap)
	// Made once here: what runs in the goroutines below may not stop the
	// test (t.Fatal), which would leave the group waiting.
	base := importOpts(t, s.dir, host, s.pub)
	client := testutil.Client(t)
	run := func(namespace string, r *cutRun) error {
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		r.cancel = cancel
		c.start(namespace, r)
		opts := base
		opts.RepoPrefix, opts.BundleRepo = namespace, namespace+"/bundle"
		_, err := mirror.Import(ctx, opts)
		return err
	}
	whole := &cutRun{manifests: map[int32]bool{}}
	if err := run("whole", whole); err != nil {
		t.Fatal(err)
	}
	writes := whole.writes.Load()
	if len(whole.manifests) < 10 || writes-int32(len(whole.manifests)) < blobStride {
		t.Fatalf("a whole import made %d writes, %d of them manifests and tags", writes, len(whole.manifests))
	}
	// Six runs at once: the registry's writes wait on its disk more than
	// on the machine's two cores.
	var g errgroup.Group
	g.SetLimit(6)
	manifests := 0
	for _, after := range []bool{false, true} {
		for cut := int32(1); cut <= writes; cut++ {
			switch {
			case !whole.manifests[cut] && (after || cut%blobStride != 0):
				continue
			case after:
				// One in three, each run again: a write that landed
				// unanswered leaves the registry as a cut before the
				// next write does, but for the second run.
				if manifests++; manifests%3 != 0 {
					continue
				}
			}
			g.Go(func() error {
				namespace := fmt.Sprintf("cut-%d-%v", cut, after)
				r := &cutRun{cut: cut, after: after}
				if err := run(namespace, r); err == nil {
					// Runs differ by a write or two (how many times the
					// referrers' fallback index is rewritten depends on
					// which pushes meet): one that made fewer was never cut.
					if r.writes.Load() >= cut {
						t.Errorf("import cut at write %d (after its answer: %v) succeeded", cut, after)
					}
					return nil
				}
				assertTagsWhole(t, client, host, namespace, s)
				if !after {
					return nil
				}
				if err := run(namespace, &cutRun{}); err != nil {
					t.Errorf("import run again after a cut at write %d: %v", cut, err)
					return nil
				}
				assertTagsWhole(t, client, host, namespace, s)
				return nil
			})
		}
	}
	_ = g.Wait()
}

// assertTagsWhole checks that every tag in the repositories an import of
// s writes under namespace on host names a manifest whose whole graph its
// repository holds, and that the bundle's tag is there only with every
// image's. A tag listed that reads "not there" names nothing: the
// registry lists a tag whose write was cut before its link was written.
func assertTagsWhole(t *testing.T, client *remote.Client, host, namespace string, s *signedSample) {
	t.Helper()
	ctx := context.Background()
	tagged := map[string]bool{}
	repos := []string{namespace + "/bundle"}
	for _, img := range s.rel.Images {
		repos = append(repos, bundle.MapRepository(namespace, img.Repository))
	}
	for _, repo := range repos {
		r, err := client.Repository(host + "/" + repo)
		if err != nil {
			t.Errorf("%s: %v", namespace, err)
			return
		}
		var tags []string
		err = r.Tags(ctx, "", func(page []string) error {
			tags = append(tags, page...)
			return nil
		})
		if err != nil && !errors.Is(remote.Classify(err), errdef.ErrNotFound) {
			t.Errorf("%s: tags of %s: %v", namespace, repo, err)
			continue
		}
		for _, tag := range tags {
			desc, err := r.Resolve(ctx, tag)
			if errors.Is(remote.Classify(err), errdef.ErrNotFound) {
				continue
			}
			if err != nil {
				t.Errorf("%s: tag %s: %v", namespace, tag, err)
				continue
			}
			if missing := missingBelow(ctx, r, desc); missing != "" {
				t.Errorf("%s: tag %s:%s names %s, whose %s", namespace, repo, tag, desc.Digest, missing)
			}
			tagged[repo+":"+tag] = true
		}
	}
	if !tagged[namespace+"/bundle:"+s.rel.Spec.Version] {
		return
	}
	for _, img := range s.rel.Images {
		if name := bundle.MapRepository(namespace, img.Repository) + ":" + s.rel.Spec.Version; !tagged[name] {
			t.Errorf("%s: the bundle is tagged, image tag %s is not", namespace, name)
		}
	}
}

// missingBelow walks the graph below desc in r and says what of it r does
// not hold; "" if it holds it all.
func missingBelow(ctx context.Context, r interface {
	content.Fetcher
	Exists(context.Context, ocispec.Descriptor) (bool, error)
}, desc ocispec.Descriptor) string {
	ok, err := r.Exists(ctx, desc)
	if err != nil || !ok {
		return fmt.Sprintf("%s %s is not there (%v)", desc.MediaType, desc.Digest, err)
	}
	below, err := content.Successors(ctx, r, desc)
	if err != nil {
		return fmt.Sprintf("%s %s cannot be read: %v", desc.MediaType, desc.Digest, err)
	}
	for _, d := range below {
		if m := missingBelow(ctx, r, d); m != "" {
			return m
		}
	}
	return ""
}
