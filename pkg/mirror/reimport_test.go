package mirror_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/opencontainers/go-digest"
	specs "github.com/opencontainers/image-spec/specs-go"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	"oras.land/oras-go/v2/content"

	"github.com/stellaops/mirror/internal/sample"
	"github.com/stellaops/mirror/internal/testutil"
	"github.com/stellaops/mirror/pkg/bundle"
	"github.com/stellaops/mirror/pkg/mirror"
)

// requestCounter counts the requests a registry is sent, and the writes
// among them (anything but GET and HEAD).
type requestCounter struct {
	all, writes atomic.Int64
	mu          sync.Mutex
	written     []string
}

func (c *requestCounter) wrap(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c.all.Add(1)
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			c.writes.Add(1)
			c.mu.Lock()
			c.written = append(c.written, r.Method+" "+r.URL.Path)
			c.mu.Unlock()
		}
		next.ServeHTTP(w, r)
	})
}

func (c *requestCounter) reset() {
	c.all.Store(0)
	c.writes.Store(0)
	c.mu.Lock()
	c.written = nil
	c.mu.Unlock()
}

// TestReimportWritesNothing runs import, push and sync twice into one
// registry, with and without the referrers API. The second run, with every
// blob, manifest and tag already in place, wrote every tag again: a
// registry in read-only mode or a pull-through cache then failed a re-run
// that operators make as a check ("takes no push"). Now it sends no write
// at all, and says the tags were already in place.
func TestReimportWritesNothing(t *testing.T) {
	ctx := context.Background()
	s := newSignedSample(t, sample.Spec{}, 0)
	version := s.rel.Spec.Version
	for _, reg := range []struct {
		name string
		host func(testing.TB, func(http.Handler) http.Handler) string
	}{
		{"referrers API", testutil.RegistryWrapped},
		{"fallback tag", func(t testing.TB, wrap func(http.Handler) http.Handler) string {
			return testutil.ProxyWrapped(t, testutil.RegistryNoReferrers(t), wrap)
		}},
	} {
		src := testutil.Registry(t)
		if _, err := mirror.Push(ctx, mirror.PushOptions{Now: testNow, Source: s.dir, Reference: src + "/stellaops/mirror-bundle",
			Trust: trustKeys(s.pub), Client: testutil.Client(t), Transfer: transferOpts()}); err != nil {
			t.Fatal(err)
		}
		for name, run := range map[string]func(host string) (*mirror.PlaceResult, error){
			"import": func(host string) (*mirror.PlaceResult, error) {
				return mirror.Import(ctx, importOpts(t, s.pack(t, ".tar"), host, s.pub))
			},
			"push": func(host string) (*mirror.PlaceResult, error) {
				return mirror.Push(ctx, mirror.PushOptions{Now: testNow, Source: s.dir, Reference: host + "/stellaops/mirror-bundle",
					Trust: trustKeys(s.pub), Client: testutil.Client(t), Transfer: transferOpts()})
			},
			"sync": func(host string) (*mirror.PlaceResult, error) {
				return mirror.Sync(ctx, mirror.SyncOptions{Now: testNow, Source: src + "/stellaops/mirror-bundle:" + version,
					Destination: host + "/mirror/bundles", Images: true, Trust: trustKeys(s.pub), Client: testutil.Client(t), Transfer: transferOpts()})
			},
		} {
			t.Run(reg.name+"/"+name, func(t *testing.T) {
				var c requestCounter
				host := reg.host(t, c.wrap)
				first, err := run(host)
				if err != nil {
					t.Fatal(err)
				}
				if first.Tags == 0 || first.TagsInPlace != 0 {
					t.Fatalf("first run: %d tags written, %d in place; want some written, none in place", first.Tags, first.TagsInPlace)
				}
				firstAll, firstWrites := c.all.Load(), c.writes.Load()
				c.reset()
				again, err := run(host)
				if err != nil {
					t.Fatalf("re-run: %v", err)
				}
				if n := c.writes.Load(); n != 0 {
					t.Errorf("re-run with everything in place sent %d writes: %v", n, c.written)
				}
				if again.Tags != 0 || again.TagsInPlace != first.Tags {
					t.Errorf("re-run: %d tags written, %d in place; want 0 written, %d in place", again.Tags, again.TagsInPlace, first.Tags)
				}
				if again.Root != first.Root || again.Blobs.Sent != 0 || again.Manifests.Pushed != 0 {
					t.Errorf("re-run: root %s, %d blobs sent, %d manifests pushed; want root %s, nothing sent", again.Root, again.Blobs.Sent, again.Manifests.Pushed, first.Root)
				}
				t.Logf("%s: first run %d requests (%d writes), re-run %d requests (%d writes)", name, firstAll, firstWrites, c.all.Load(), c.writes.Load())
			})
		}
	}
}

// TestReimportTagNotTrusted: a tag is left as it is only when the
// registry serves the bundle's manifest by it, byte for byte. A tag naming
// another manifest (moved since), and an image tag whose GET answers with
// another Docker-Content-Digest than its bytes have, get the tag written
// again, as every tag was before; the tags then name the bundle's
// manifests. One whose GET carries no Docker-Content-Digest but the very
// bytes is in place: what it serves is what the bundle puts there.
func TestReimportTagNotTrusted(t *testing.T) {
	ctx := context.Background()
	s := newSignedSample(t, sample.Spec{}, 0)
	version := s.rel.Spec.Version
	imageTagGet := func(r *http.Request) bool {
		return r.Method == http.MethodGet && strings.Contains(r.URL.Path, "/manifests/") && !strings.Contains(r.URL.Path, "/manifests/sha256:") &&
			!strings.Contains(r.URL.Path, "/"+bundle.DefaultBundleRepository+"/")
	}
	for _, tt := range []struct {
		name string
		// edit alters the answer to the first GET of each image tag in
		// the re-run (nil: none).
		edit func(http.Header)
		// move, if set, moves the image tags before the re-run.
		move bool
		// rewritten: the image tags are written again.
		rewritten bool
	}{
		{"no digest on GET", func(h http.Header) { h.Del("Docker-Content-Digest") }, false, false},
		{"another digest on GET", func(h http.Header) { h.Set("Docker-Content-Digest", digest.FromString("other").String()) }, false, true},
		{"tag moved", nil, true, true},
	} {
		t.Run(tt.name, func(t *testing.T) {
			var armed atomic.Bool
			var mu sync.Mutex
			asked := map[string]bool{}
			var tagPuts atomic.Int64
			host := testutil.RegistryWrapped(t, func(next http.Handler) http.Handler {
				return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
					if tagPut(r) {
						tagPuts.Add(1)
					}
					if armed.Load() && tt.edit != nil && imageTagGet(r) {
						mu.Lock()
						first := !asked[r.URL.Path]
						asked[r.URL.Path] = true
						mu.Unlock()
						if first {
							w = &editWriter{ResponseWriter: w, edit: tt.edit}
						}
					}
					next.ServeHTTP(w, r)
				})
			})
			first, err := mirror.Import(ctx, importOpts(t, s.dir, host, s.pub))
			if err != nil {
				t.Fatal(err)
			}
			if tt.move {
				// Each image's tag moved to another manifest (an empty
				// image) in its repository.
				client := testutil.Client(t)
				empty := ocispec.DescriptorEmptyJSON
				man, _ := json.Marshal(ocispec.Manifest{Versioned: specs.Versioned{SchemaVersion: 2}, MediaType: ocispec.MediaTypeImageManifest, Config: empty, Layers: []ocispec.Descriptor{}})
				desc := content.NewDescriptorFromBytes(ocispec.MediaTypeImageManifest, man)
				for _, img := range s.rel.Images {
					r, _ := client.Repository(host + "/" + img.Repository)
					if err := r.Blobs().Push(ctx, empty, bytes.NewReader(empty.Data)); err != nil {
						t.Fatal(err)
					}
					if err := r.Manifests().PushReference(ctx, desc, bytes.NewReader(man), version); err != nil {
						t.Fatal(err)
					}
				}
			}
			armed.Store(true)
			tagPuts.Store(0)
			again, err := mirror.Import(ctx, importOpts(t, s.dir, host, s.pub))
			if err != nil {
				t.Fatalf("re-import: %v", err)
			}
			want := int64(0)
			if tt.rewritten {
				want = int64(len(s.rel.Images))
			}
			if again.Tags != want || tagPuts.Load() != want || again.Tags+again.TagsInPlace != first.Tags {
				t.Errorf("re-import: %d tags written (%d PUTs), %d in place; want %d written of %d", again.Tags, tagPuts.Load(), again.TagsInPlace, want, first.Tags)
			}
			client := testutil.Client(t)
			for _, img := range s.rel.Images {
				r, _ := client.Repository(host + "/" + img.Repository)
				if d, err := r.Resolve(ctx, version); err != nil || d.Digest != img.Descriptor.Digest {
					t.Errorf("%s:%s names %s (%v), want %s", img.Repository, version, d.Digest, err, img.Descriptor.Digest)
				}
			}
		})
	}
}

// TestReimportTagHeadLies: a tag found in place is one whose content the
// registry serves by it, not one its HEAD vouches for. A front that
// answers a tag's HEAD from a stale cache (or a registry that lies) names
// the bundle's digest while the tag has since been moved to another
// manifest (here each image's tag, to an empty image). A re-import took
// the HEAD's word and left every moved tag as it was, saying "already in
// place", where a write would have put it back; now the tag's manifest is
// read (GET) and compared byte for byte, and each moved tag is written.
func TestReimportTagHeadLies(t *testing.T) {
	ctx := context.Background()
	s := newSignedSample(t, sample.Spec{}, 0)
	version := s.rel.Spec.Version
	want := map[string]digest.Digest{}
	for _, img := range s.rel.Images {
		want["/v2/"+img.Repository+"/manifests/"+version] = img.Descriptor.Digest
	}
	var armed atomic.Bool
	var tagPuts atomic.Int64
	host := testutil.RegistryWrapped(t, func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if tagPut(r) {
				tagPuts.Add(1)
			}
			if d, ok := want[r.URL.Path]; ok && armed.Load() && r.Method == http.MethodHead {
				w = &editWriter{ResponseWriter: w, edit: func(h http.Header) { h.Set("Docker-Content-Digest", d.String()) }}
			}
			next.ServeHTTP(w, r)
		})
	})
	first, err := mirror.Import(ctx, importOpts(t, s.dir, host, s.pub))
	if err != nil {
		t.Fatal(err)
	}
	client := testutil.Client(t)
	empty := ocispec.DescriptorEmptyJSON
	man, _ := json.Marshal(ocispec.Manifest{Versioned: specs.Versioned{SchemaVersion: 2}, MediaType: ocispec.MediaTypeImageManifest, Config: empty, Layers: []ocispec.Descriptor{}})
	moved := content.NewDescriptorFromBytes(ocispec.MediaTypeImageManifest, man)
	for _, img := range s.rel.Images {
		r, _ := client.Repository(host + "/" + img.Repository)
		if err := r.Blobs().Push(ctx, empty, bytes.NewReader(empty.Data)); err != nil {
			t.Fatal(err)
		}
		if err := r.Manifests().PushReference(ctx, moved, bytes.NewReader(man), version); err != nil {
			t.Fatal(err)
		}
	}
	armed.Store(true)
	tagPuts.Store(0)
	again, err := mirror.Import(ctx, importOpts(t, s.dir, host, s.pub))
	armed.Store(false)
	if err != nil {
		t.Fatalf("re-import: %v", err)
	}
	n := int64(len(s.rel.Images))
	if again.Tags != n || tagPuts.Load() != n || again.TagsInPlace != first.Tags-n {
		t.Errorf("re-import: %d tags written (%d PUTs), %d in place; want the %d moved written, %d in place", again.Tags, tagPuts.Load(), again.TagsInPlace, n, first.Tags-n)
	}
	for _, img := range s.rel.Images {
		r, _ := client.Repository(host + "/" + img.Repository)
		desc, rc, err := r.Manifests().FetchReference(ctx, version)
		if err != nil {
			t.Fatal(err)
		}
		data, err := io.ReadAll(rc)
		rc.Close()
		if err != nil || digest.FromBytes(data) != img.Descriptor.Digest {
			t.Errorf("%s:%s serves %s (%v; %d bytes), want %s", img.Repository, version, digest.FromBytes(data), err, desc.Size, img.Descriptor.Digest)
		}
	}
}
