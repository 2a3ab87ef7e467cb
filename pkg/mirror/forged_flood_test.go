package mirror_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"path/filepath"
	"runtime"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/opencontainers/go-digest"
	specs "github.com/opencontainers/image-spec/specs-go"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	oremote "oras.land/oras-go/v2/registry/remote"

	"github.com/stellaops/mirror/internal/sample"
	"github.com/stellaops/mirror/internal/testutil"
	"github.com/stellaops/mirror/pkg/bundle"
	"github.com/stellaops/mirror/pkg/errdef"
	"github.com/stellaops/mirror/pkg/mirror"
)

// floodCounter counts a registry's requests, and the GETs of manifests
// named in junk.
type floodCounter struct {
	all, junkGets atomic.Int64
	listings      atomic.Int64    // referrers listings: one a root verified
	junk          map[string]bool // "/manifests/<digest>" of the junk referrers
}

func (c *floodCounter) wrap(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c.all.Add(1)
		if strings.Contains(r.URL.Path, "/referrers/") {
			c.listings.Add(1)
		}
		if i := strings.LastIndex(r.URL.Path, "/manifests/"); i >= 0 && r.Method == http.MethodGet && c.junk[r.URL.Path[i:]] {
			c.junkGets.Add(1)
		}
		next.ServeHTTP(w, r)
	})
}

// floodRepo pushes, as anyone with push rights to the bundle repository
// can, n copies of the root tagged version in repo, each claiming
// generation from+i under tag forged-i, each with the real bundle's
// signature referrer attached (its envelope verifies with the signer's
// key, but the root is not the one its manifest.json makes) and junk
// referrers that are no signature (another artifact type). It returns
// the junk referrers' manifest paths. The junk has the empty config
// (listed by some registries as a signature of ours is) with emptyConfig,
// else an SBOM's config.
func floodRepo(t *testing.T, repo, version string, n int, from int64, junk int, emptyConfig bool) map[string]bool {
	t.Helper()
	ctx := context.Background()
	r, _, data, envelope := rootAndEnvelope(t, repo, version)
	junkPaths := map[string]bool{}
	for i := range n {
		var idx map[string]any
		if err := json.Unmarshal(data, &idx); err != nil {
			t.Fatal(err)
		}
		idx["annotations"].(map[string]any)[bundle.AnnotationGeneration] = fmt.Sprint(from + int64(i))
		forged, _ := json.Marshal(idx)
		fdesc := ocispec.Descriptor{MediaType: ocispec.MediaTypeImageIndex, ArtifactType: bundle.ArtifactTypeBundle, Digest: digest.FromBytes(forged), Size: int64(len(forged))}
		if err := r.PushReference(ctx, fdesc, bytes.NewReader(forged), fmt.Sprintf("forged-%d", i)); err != nil {
			t.Fatal(err)
		}
		sig, err := bundle.SignatureManifest(fdesc, envelope, fixedTime)
		if err != nil {
			t.Fatal(err)
		}
		if err := r.Push(ctx, sig.Descriptor, bytes.NewReader(sig.Bytes)); err != nil {
			t.Fatal(err)
		}
		for p := range attachJunk(t, r, fdesc, junk, emptyConfig) {
			junkPaths[p] = true
		}
	}
	return junkPaths
}

// floodFixture is a far side holding bundle A (generation 100) and n
// forged roots claiming generations from up (floodRepo), and bundle B
// (generation 101, signed with A's key) to import over them.
type floodFixture struct {
	a      *signedSample
	c      *floodCounter
	host   string
	repo   string
	dirB   string
	forged int
}

func newFloodFixture(t *testing.T, n int, from int64, junk int, emptyConfig bool) *floodFixture {
	t.Helper()
	ctx := context.Background()
	f := &floodFixture{a: newSignedSample(t, sample.Spec{}, 100), c: &floodCounter{}, forged: n}
	f.host = testutil.RegistryWrapped(t, f.c.wrap)
	f.repo = f.host + "/" + bundle.DefaultBundleRepository
	if _, err := mirror.Import(ctx, importOpts(t, f.a.dir, f.host, f.a.pub)); err != nil {
		t.Fatal(err)
	}
	f.c.junk = floodRepo(t, f.repo, "2025.10.0", n, from, junk, emptyConfig)
	_, releaseB, advisoriesB := testutil.PushSample(t, f.a.source, sample.Spec{Version: "2025.11.0", Variant: 5})
	f.dirB = filepath.Join(t.TempDir(), "b")
	opts := createOpts(t, releaseB, advisoriesB, f.dirB)
	opts.Generation = 101
	if _, err := mirror.Create(ctx, opts); err != nil {
		t.Fatal(err)
	}
	sign(t, f.dirB, f.a.priv)
	return f
}

// measure runs job, logs what it cost the registry, and returns the
// verifications it made (referrers listings) and its error.
func (f *floodFixture) measure(t *testing.T, name string, job func() error) (int64, error) {
	f.c.all.Store(0)
	f.c.junkGets.Store(0)
	f.c.listings.Store(0)
	start := time.Now()
	err := job()
	t.Logf("%s over %d forged roots: %d requests, %d referrers listings, %d junk referrer GETs, %v: %v",
		name, f.forged, f.c.all.Load(), f.c.listings.Load(), f.c.junkGets.Load(), time.Since(start).Round(time.Millisecond), err)
	return f.c.listings.Load(), err
}

// TestForgedRootFlood: anyone with push rights to the bundle repository
// pushed 200 roots claiming generations above the real bundles', each with
// 5 SBOM referrers. The rollback check of every import verified all 200
// (and fetched their 1000 SBOM manifests), as did inventory and catalog,
// and passed: the cost was unbounded, 2740 requests for this import. Now
// a reader gives up past MaxUnverifiedRoots roots that do not verify,
// fails closed with exit 5 naming the repository, writes nothing; and the
// SBOMs, no signature, are never fetched.
func TestForgedRootFlood(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	f := newFloodFixture(t, 200, 1000, 5, false)
	bound := int64(mirror.MaxUnverifiedRoots + 2*runtime.GOMAXPROCS(0) + 8)
	for name, run := range map[string]func() error{
		"import": func() error { _, err := mirror.Import(ctx, importOpts(t, f.dirB, f.host, f.a.pub)); return err },
		"inventory": func() error {
			_, err := mirror.Inventory(ctx, mirror.InventoryOptions{Registry: f.host, Output: filepath.Join(t.TempDir(), "inventory.json"), Trust: trustKeys(f.a.pub), Client: testutil.Client(t)})
			return err
		},
		"catalog": func() error {
			_, err := mirror.Catalog(ctx, mirror.CatalogOptions{Repository: f.repo, Key: f.a.priv, Password: testPass, Client: testutil.Client(t)})
			return err
		},
	} {
		verified, err := f.measure(t, name, run)
		if !errors.Is(err, errdef.ErrSignature) || !strings.Contains(err.Error(), f.repo) || !strings.Contains(err.Error(), fmt.Sprintf("more than %d bundle roots", mirror.MaxUnverifiedRoots)) {
			t.Errorf("%s over %d forged roots: %v; want a signature failure naming %s and the bound", name, f.forged, err, f.repo)
		}
		if verified > bound {
			t.Errorf("%s verified %d roots, want at most %d", name, verified, bound)
		}
		if n := f.c.junkGets.Load(); n != 0 {
			t.Errorf("%s fetched %d SBOM referrers of forged roots", name, n)
		}
	}
	r, _ := testutil.Client(t).Repository(f.repo)
	if d, err := r.Resolve(ctx, "2025.11.0"); err == nil {
		t.Errorf("the refused import tagged 2025.11.0 (%s)", d.Digest)
	}
	if _, err := r.Resolve(ctx, mirror.CatalogTag); err == nil {
		t.Error("the refused catalog was pushed")
	}
}

// TestForgedRootsManyReferrers: forged roots, fewer than the bound, each
// with 40 referrers listed as a signature of ours could be (the empty
// config). The rollback check fetched every one of them, of every root
// (400 GETs), and passed over the roots. Now it reads at most 16 of a
// root, and a root none of whose first 16 verifies, with more past them,
// is not passed over: the check fails closed, exit 5, naming it (a sound
// root could be hidden so: TestHeldRootHiddenBehindReferrers).
func TestForgedRootsManyReferrers(t *testing.T) {
	ctx := context.Background()
	f := newFloodFixture(t, 10, 1000, 40, true)
	_, err := f.measure(t, "import", func() error { _, err := mirror.Import(ctx, importOpts(t, f.dirB, f.host, f.a.pub)); return err })
	if !errors.Is(err, errdef.ErrSignature) || !strings.Contains(err.Error(), "tag forged-") || !strings.Contains(err.Error(), "more than 16 signature referrers") {
		t.Errorf("import over forged roots with 40 referrers each: %v; want a signature failure naming a root and its referrers", err)
	}
	// At most 16 of each root tried: 400 before. Not 16 in all: a forged
	// root whose own signature referrer is listed among its first 16 (in
	// whatever order the registry lists them) is refused as forged, and the
	// check goes on to the next wave, each root of which reads its 16; it
	// fails at the first root none of whose first 16 verifies.
	if most := int64(16 * f.forged); f.c.junkGets.Load() > most {
		t.Errorf("the import fetched %d junk referrers of %d forged roots, want at most %d", f.c.junkGets.Load(), f.forged, most)
	}
}

// attachJunk attaches to subject in r n referrers that are no signature
// (an SBOM's artifactType), with the empty config (listed by some
// registries as a signature of ours is) with emptyConfig, else an SBOM's
// config; it returns their manifest paths ("/manifests/<digest>").
func attachJunk(t *testing.T, r *oremote.Repository, subject ocispec.Descriptor, n int, emptyConfig bool) map[string]bool {
	t.Helper()
	ctx := context.Background()
	empty := ocispec.DescriptorEmptyJSON
	if err := r.Blobs().Push(ctx, empty, bytes.NewReader(empty.Data)); err != nil && !strings.Contains(err.Error(), "exist") {
		t.Fatal(err)
	}
	subject = ocispec.Descriptor{MediaType: subject.MediaType, Digest: subject.Digest, Size: subject.Size}
	paths := map[string]bool{}
	for j := range n {
		config := empty
		if !emptyConfig {
			config.MediaType = "application/vnd.example.sbom.config.v1+json"
		}
		man, _ := json.Marshal(ocispec.Manifest{Versioned: specs.Versioned{SchemaVersion: 2}, MediaType: ocispec.MediaTypeImageManifest,
			ArtifactType: "application/vnd.example.sbom", Config: config, Layers: []ocispec.Descriptor{empty}, Subject: &subject,
			Annotations: map[string]string{"n": fmt.Sprint(j)}})
		jd := ocispec.Descriptor{MediaType: ocispec.MediaTypeImageManifest, Digest: digest.FromBytes(man), Size: int64(len(man))}
		if err := r.Push(ctx, jd, bytes.NewReader(man)); err != nil {
			t.Fatal(err)
		}
		paths["/manifests/"+jd.Digest.String()] = true
	}
	return paths
}

// TestForgedRootsCatalogRefresh: 101 forged roots, most claiming
// generations below the bundle imported, pass the rollback check (it stops at the
// newest that verifies) but make the catalog refresh of import
// --catalog-key give up past MaxUnverifiedRoots, after the bundle was
// placed and tagged. The error read as the bundle's own ("holds more than
// 100 bundle roots whose signature does not verify", exit 5), as if the
// import had failed; now it says the bundle is in place and only the
// catalog was not refreshed, and how to refresh it.
func TestForgedRootsCatalogRefresh(t *testing.T) {
	ctx := context.Background()
	// Claims 1 to 102: the one claiming 100 is A's root itself (the same
	// bytes), two claim no less than B's 101, 101 are forged.
	f := newFloodFixture(t, mirror.MaxUnverifiedRoots+2, 1, 0, false)
	opts := importOpts(t, f.dirB, f.host, f.a.pub)
	opts.CatalogKey, opts.CatalogPassword = f.a.priv, testPass
	_, err := mirror.Import(ctx, opts)
	if !errors.Is(err, errdef.ErrSignature) || !strings.Contains(err.Error(), "the bundle is in place, but the catalog of "+f.repo+" was not refreshed") {
		t.Errorf("import --catalog-key over %d forged roots: %v; want the bundle said in place, the catalog not refreshed", f.forged, err)
	}
	r, _ := testutil.Client(t).Repository(f.repo)
	if _, err := r.Resolve(ctx, "2025.11.0"); err != nil {
		t.Errorf("tag 2025.11.0: %v", err)
	}
}
