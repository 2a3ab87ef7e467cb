package mirror_test

import (
	"context"
	"errors"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"

	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/stellaops/mirror/internal/sample"
	"github.com/stellaops/mirror/internal/testutil"
	"github.com/stellaops/mirror/pkg/errdef"
	"github.com/stellaops/mirror/pkg/mirror"
)

// pageOfOne caps every tag and repository list the registry behind it
// answers at one entry a page (distribution honours ?n= and links to the
// rest), and counts the pages asked for after the first.
func pageOfOne(later *atomic.Int64) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if strings.HasSuffix(r.URL.Path, "/tags/list") || r.URL.Path == "/v2/_catalog" {
				q := r.URL.Query()
				if q.Get("last") != "" {
					later.Add(1)
				}
				q.Set("n", "1")
				r.URL.RawQuery = q.Encode()
			}
			next.ServeHTTP(w, r)
		})
	}
}

// TestListsFollowPages: the rollback check and the catalog read every page
// of a tag list. Against the CNCF registry with one tag a page, the newer
// bundle's tag (2025.12.0) is on the second page: an import or push of an
// older generation under another version is still refused (exit 8), and
// the catalog still lists it.
func TestListsFollowPages(t *testing.T) {
	t.Parallel()
	var later atomic.Int64
	host := testutil.ProxyWrapped(t, testutil.Distribution(t), pageOfOne(&later))
	ctx := context.Background()
	first := newSignedSample(t, sample.Spec{Version: "2025.01.0"}, fixedTime.Unix()+1)
	newest := newSignedSample(t, sample.Spec{Version: "2025.12.0", Variant: 3}, fixedTime.Unix()+3)
	older := newSignedSample(t, sample.Spec{Version: "2025.06.0", Variant: 2}, fixedTime.Unix()+2)
	// One key trusted throughout: only bundles that verify under it count
	// as held, and are cataloged.
	sign(t, first.dir, newest.priv)
	sign(t, older.dir, newest.priv)
	for _, s := range []*signedSample{first, newest} {
		if _, err := mirror.Import(ctx, importOpts(t, s.dir, host, newest.pub)); err != nil {
			t.Fatal(err)
		}
	}
	later.Store(0)
	if _, err := mirror.Import(ctx, importOpts(t, older.dir, host, newest.pub)); !errors.Is(err, errdef.ErrGeneration) {
		t.Fatalf("import of generation 2 over 3 on page 2: %v, want ErrGeneration", err)
	}
	if later.Load() == 0 {
		t.Fatal("the registry was never asked for a second page: the test proves nothing")
	}
	_, err := mirror.Push(ctx, mirror.PushOptions{Now: testNow, Source: older.dir, Reference: host + "/stellaops/mirror-bundle", Trust: trustKeys(newest.pub), Client: testutil.Client(t), Transfer: transferOpts()})
	if !errors.Is(err, errdef.ErrGeneration) {
		t.Fatalf("push of generation 2 over 3 on page 2: %v, want ErrGeneration", err)
	}
	repo := host + "/stellaops/mirror-bundle"
	w, err := mirror.Catalog(ctx, mirror.CatalogOptions{Repository: repo, Key: newest.priv, Password: testPass, Now: testNow, Client: testutil.Client(t)})
	if err != nil {
		t.Fatal(err)
	}
	if len(w.Bundles) != 2 || w.Bundles[1].Version != "2025.12.0" {
		t.Fatalf("catalog over paged tags lists %+v, want 2025.01.0 and 2025.12.0", w.Bundles)
	}
	v, err := mirror.Catalog(ctx, mirror.CatalogOptions{Repository: repo, Verify: true, Trust: trustKeys(newest.pub), Now: testNow, Client: testutil.Client(t)})
	if err != nil || len(v.Bundles) != 2 {
		t.Fatalf("catalog --verify over paged tags: %v, %+v", err, v)
	}
}

// referrersLater answers the first page of every referrers list empty,
// with a Link to a second page that holds them all, as a registry that
// pages its referrers may; it counts the second pages asked for.
func referrersLater(later *atomic.Int64) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if !strings.Contains(r.URL.Path, "/referrers/") || r.Method != http.MethodGet {
				next.ServeHTTP(w, r)
				return
			}
			if r.URL.Query().Get("page") == "2" {
				later.Add(1)
				r.URL.RawQuery = ""
				next.ServeHTTP(w, r)
				return
			}
			w.Header().Set("Content-Type", ocispec.MediaTypeImageIndex)
			w.Header().Set("Link", "<"+r.URL.Path+`?page=2>; rel="next"`)
			w.Write([]byte(`{"schemaVersion":2,"mediaType":"` + ocispec.MediaTypeImageIndex + `","manifests":[]}`))
		})
	}
}

// TestReferrersFollowPages: a registry whose referrers API lists the
// bundle's signature on a later page. import must find the signature it
// pushed listed (else it fails "not listed by the registry's referrers
// API"), pull must find it to verify, and create must carry the images'
// SBOM referrers.
func TestReferrersFollowPages(t *testing.T) {
	var later atomic.Int64
	host := testutil.RegistryWrapped(t, referrersLater(&later))
	ctx := context.Background()
	s := newSignedSample(t, sample.Spec{}, 0)
	if _, err := mirror.Import(ctx, importOpts(t, s.dir, host, s.pub)); err != nil {
		t.Fatalf("import into a registry that pages referrers: %v", err)
	}
	if later.Load() == 0 {
		t.Fatal("no second page of referrers was asked for: the test proves nothing")
	}
	out := filepath.Join(t.TempDir(), "pulled")
	_, err := mirror.Pull(ctx, mirror.PullOptions{Reference: host + "/stellaops/mirror-bundle:" + s.rel.Spec.Version, Output: out, Trust: trustKeys(s.pub), Client: testutil.Client(t), Transfer: transferOpts()})
	if err != nil {
		t.Fatalf("pull of a bundle whose signature is on page 2 of its referrers: %v", err)
	}
	if _, err := mirror.Verify(ctx, mirror.VerifyOptions{Envelope: filepath.Join(out, "manifest.dsse"), Trust: trustKeys(s.pub), Now: testNow}); err != nil {
		t.Fatal(err)
	}

	later.Store(0)
	rel, releaseFile, advisories := testutil.PushSample(t, host, sample.Spec{Registry: host})
	dir := filepath.Join(t.TempDir(), "bundle")
	if _, err := mirror.Create(ctx, createOpts(t, releaseFile, advisories, dir)); err != nil {
		t.Fatal(err)
	}
	carried := 0
	for _, img := range rel.Images {
		if img.Referrer == nil {
			continue
		}
		if _, err := os.Stat(filepath.Join(dir, "blobs", "sha256", img.Referrer.Digest.Encoded())); err != nil {
			t.Errorf("create from a source that pages referrers left out %s's SBOM referrer: %v", img.Name, err)
		}
		carried++
	}
	if carried == 0 || later.Load() == 0 {
		t.Fatalf("%d referrers, %d second pages: the test proves nothing", carried, later.Load())
	}
}
