package mirror_test

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/opencontainers/go-digest"
	specs "github.com/opencontainers/image-spec/specs-go"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/stellaops/mirror/internal/sample"
	"github.com/stellaops/mirror/internal/testutil"
	"github.com/stellaops/mirror/pkg/bundle"
	"github.com/stellaops/mirror/pkg/errdef"
	"github.com/stellaops/mirror/pkg/mirror"
)

// TestCreateRefusesTooLargeReleaseUpFront: a release no bundle can hold
// (over MaxImages, or whose advisories alone pass manifest.json's bound) is
// refused before a single request reaches a registry, with one line naming
// the bound and the release file: not after every image was resolved and
// every blob written to disk.
func TestCreateRefusesTooLargeReleaseUpFront(t *testing.T) {
	t.Parallel()
	counted := newCountedRegistry(t)
	host := counted.host
	tmp := t.TempDir()
	release := func(name string, n int) string {
		var b strings.Builder
		for i := range n {
			fmt.Fprintf(&b, "%s/stellaops/img-%d@sha256:%064x\n", host, i, i)
		}
		path := filepath.Join(tmp, name)
		if err := os.WriteFile(path, []byte(b.String()), 0o644); err != nil {
			t.Fatal(err)
		}
		return path
	}
	// Advisory files whose names alone pass manifest.json's bound.
	advisories := filepath.Join(tmp, "advisories")
	feed := filepath.Join(advisories, strings.Repeat("f", 200))
	if err := os.MkdirAll(feed, 0o755); err != nil {
		t.Fatal(err)
	}
	for i := range 4000 {
		if err := os.WriteFile(filepath.Join(feed, fmt.Sprintf("%05d-%s.json", i, strings.Repeat("a", 190))), []byte("{}"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	for _, tc := range []struct {
		name, release, advisories, want string
	}{
		{"images", release("many.txt", bundle.MaxImages+1), "", fmt.Sprintf("many.txt names %d images, over the %d", bundle.MaxImages+1, bundle.MaxImages)},
		{"advisories", release("one.txt", 1), advisories, "one.txt: its manifest.json would be over"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			counted.reset()
			out := filepath.Join(tmp, "bundle-"+tc.name)
			_, err := mirror.Create(context.Background(), mirror.CreateOptions{ReleaseFile: tc.release, AdvisoriesDir: tc.advisories, Version: "2025.10.0",
				Output: out, Created: fixedTime, Client: testutil.Client(t)})
			if !errors.Is(err, errdef.ErrUsage) || !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), "release too large for one bundle") {
				t.Fatalf("create: %v, want ErrUsage naming %q", err, tc.want)
			}
			if n := counted.total(); n != 0 {
				t.Errorf("%d requests reached the registry before the refusal", n)
			}
			if _, err := os.Lstat(out); !os.IsNotExist(err) {
				t.Errorf("output %s left behind: %v", out, err)
			}
		})
	}
}

// A source can attach to an image referrers (or cosign tags) of up to 4
// MiB each, as many as a thousand: create held every one in memory, and
// wrote a bundle that no reader of a packed bundle takes past 128 MiB of
// manifests. It now refuses the manifest that would pass the bound before
// fetching it, naming the release (exit 1), with nothing written.
func TestCreateBoundsTheManifestsItHolds(t *testing.T) {
	var manifestGets atomic.Int64
	src := testutil.RegistryWrapped(t, func(h http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.Method == http.MethodGet && strings.Contains(r.URL.Path, "/manifests/sha256:") {
				manifestGets.Add(1)
			}
			h.ServeHTTP(w, r)
		})
	})
	r := rawRepo{t, src, "app/attached"}
	img := r.image("app", "", nil)
	r.push(ocispec.DescriptorEmptyJSON.MediaType, ocispec.DescriptorEmptyJSON.Data)
	pad := strings.Repeat("x", 40<<10)
	for i := range 5 {
		subject := subjectOf(img)
		r.pushJSON(ocispec.MediaTypeImageManifest, ocispec.Manifest{
			Versioned: specs.Versioned{SchemaVersion: 2}, MediaType: ocispec.MediaTypeImageManifest,
			ArtifactType: "application/vnd.example.padding", Config: ocispec.DescriptorEmptyJSON,
			Layers: []ocispec.Descriptor{ocispec.DescriptorEmptyJSON}, Subject: subject,
			Annotations: map[string]string{"pad": fmt.Sprint(i) + pad},
		})
	}
	rel := releaseOf(t, src, map[string]digest.Digest{r.name: img.Digest})
	out := filepath.Join(t.TempDir(), "bundle")
	mirror.SetMaxBundleDocs(t, 100<<10)
	manifestGets.Store(0)
	opts := createOpts(t, rel, "", out)
	opts.Version = "2025.10.0"
	_, err := mirror.Create(context.Background(), opts)
	if !errors.Is(err, errdef.ErrUsage) || !strings.Contains(err.Error(), "release too large for one bundle: "+rel) {
		t.Fatalf("err = %v, want a usage error naming %s", err, rel)
	}
	// The image's manifest and two referrers fit in 100 KiB; the third is
	// refused unread.
	if got := manifestGets.Load(); got > 3 {
		t.Errorf("%d manifests fetched, want no more than the 3 within the bound", got)
	}
	if _, err := os.Lstat(out); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("%s: %v, want nothing written", out, err)
	}
	mirror.SetMaxBundleDocs(t, 1<<20)
	if _, err := mirror.Create(context.Background(), opts); err != nil {
		t.Fatalf("within the bound: %v", err)
	}
}

// A bundle read from a registry is hostile until its signature verifies,
// and pull without --key never verifies it: its root could list
// manifests without end, each held for the run. The reader holds them to
// the bound a packed bundle's head has, and refuses past it (exit 11),
// writing nothing.
func TestRegistryBundleManifestsBounded(t *testing.T) {
	ctx := context.Background()
	s, ref, _ := pushedSample(t)
	pull := func() (string, error) {
		out := filepath.Join(t.TempDir(), "pulled")
		_, err := mirror.Pull(ctx, mirror.PullOptions{Reference: ref + ":" + s.rel.Spec.Version, Output: out, Client: testutil.Client(t), Transfer: transferOpts()})
		return out, err
	}
	mirror.SetMaxBundleDocs(t, 8<<10)
	out, err := pull()
	if !errors.Is(err, errdef.ErrMalformed) || !strings.Contains(err.Error(), "the bundle's manifests come to more than 8192 bytes") {
		t.Fatalf("err = %v, want ErrMalformed naming the bound", err)
	}
	if _, err := os.Lstat(out); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("%s: %v, want nothing written", out, err)
	}
	mirror.SetMaxBundleDocs(t, 1<<20)
	if _, err := pull(); err != nil {
		t.Fatalf("within the bound: %v", err)
	}
}

// A manifest that several images carry (the same image under two names, or
// a hostile source naming one 4 MiB manifest by every image's cosign tag)
// counts once against the bound, as a packed bundle holds it once: create
// must then hold it once too, fetching it for the first image and handing
// the same bytes to the others. It fetched and held a copy for each image,
// so that what it held grew with the images past the bound.
func TestCreateHoldsSharedManifestOnce(t *testing.T) {
	var padGets atomic.Int64
	var pad ocispec.Descriptor
	src := testutil.RegistryWrapped(t, func(h http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.Method == http.MethodGet && pad.Digest != "" && strings.HasSuffix(r.URL.Path, "/manifests/"+pad.Digest.String()) {
				padGets.Add(1)
			}
			h.ServeHTTP(w, r)
		})
	})
	refs := map[string]digest.Digest{}
	for i := range 4 {
		r := rawRepo{t, src, fmt.Sprintf("app/shared%d", i)}
		img := r.image(fmt.Sprint("app", i), "", nil)
		r.push(ocispec.DescriptorEmptyJSON.MediaType, ocispec.DescriptorEmptyJSON.Data)
		d := r.pushJSON(ocispec.MediaTypeImageManifest, ocispec.Manifest{
			Versioned: specs.Versioned{SchemaVersion: 2}, MediaType: ocispec.MediaTypeImageManifest,
			Config: ocispec.DescriptorEmptyJSON, Layers: []ocispec.Descriptor{ocispec.DescriptorEmptyJSON},
			Annotations: map[string]string{"pad": strings.Repeat("x", 60<<10)},
		})
		tagManifest(t, src, r.name, d, bundle.CosignTag(img.Digest, ".sig"))
		pad = d
		refs[r.name] = img.Digest
	}
	mirror.SetMaxBundleDocs(t, 100<<10)
	padGets.Store(0)
	opts := createOpts(t, releaseOf(t, src, refs), "", filepath.Join(t.TempDir(), "bundle"))
	opts.Version = "2025.10.0"
	if _, err := mirror.Create(context.Background(), opts); err != nil {
		t.Fatal(err)
	}
	for _, img := range readManifest(t, opts.Output).Images {
		if len(img.Referrers) != 1 || img.Referrers[0].Digest != pad.Digest || img.Referrers[0].Tag == "" {
			t.Errorf("%s carries %+v, want the shared manifest under its cosign tag", img.Name, img.Referrers)
		}
	}
	if got := padGets.Load(); got != 1 {
		t.Errorf("the manifest the 4 images share was fetched %d times, want once (held once)", got)
	}
}

// Anyone who may push to the bundle's repository can attach referrers of
// their own to its root, up to 4 MiB each: the reader weighs each and
// skips those that are no signature of ours. They are no part of the
// bundle, so they count nothing against the bound on its manifests, and
// are not held for the run: referrers that together passed it made the
// reader refuse the signature that came after them, or the bundle's own
// manifests (exit 11), and pull --key of a validly signed bundle failed.
func TestRegistryBundleBoundIgnoresForeignReferrers(t *testing.T) {
	ctx := context.Background()
	s, ref, res := pushedSample(t)
	pull := func() error {
		_, err := mirror.Pull(ctx, mirror.PullOptions{Reference: ref + ":" + s.rel.Spec.Version, Output: filepath.Join(t.TempDir(), "pulled"),
			Trust: trustKeys(s.pub), Client: testutil.Client(t), Transfer: transferOpts()})
		return err
	}
	mirror.SetMaxBundleDocs(t, 64<<10)
	if err := pull(); err != nil {
		t.Fatalf("the bundle's own manifests do not fit the bound: %v", err)
	}
	// Small ones, many: whatever order the registry lists them in, they
	// fill the bound to within one of them.
	r := rawRepo{t, strings.TrimSuffix(ref, "/stellaops/mirror-bundle"), "stellaops/mirror-bundle"}
	r.push(ocispec.DescriptorEmptyJSON.MediaType, ocispec.DescriptorEmptyJSON.Data)
	root := ocispec.Descriptor{MediaType: ocispec.MediaTypeImageIndex, Digest: res.Root, Size: int64(len(readFile(t, filepath.Join(s.dir, "blobs", "sha256", res.Root.Encoded()))))}
	for i := range 80 {
		r.pushJSON(ocispec.MediaTypeImageManifest, ocispec.Manifest{
			Versioned: specs.Versioned{SchemaVersion: 2}, MediaType: ocispec.MediaTypeImageManifest,
			ArtifactType: "application/vnd.example.junk", Config: ocispec.DescriptorEmptyJSON,
			Layers: []ocispec.Descriptor{ocispec.DescriptorEmptyJSON}, Subject: &root,
			Annotations: map[string]string{"pad": fmt.Sprint(i) + strings.Repeat("x", 1<<10)},
		})
	}
	if err := pull(); err != nil {
		t.Fatalf("pull --key with foreign referrers on the root: %v", err)
	}
}

// pushedSample is a signed sample bundle pushed to a registry: the sample,
// the bundle repository's reference and what push did.
func pushedSample(t *testing.T) (*signedSample, string, *mirror.PlaceResult) {
	t.Helper()
	s := newSignedSample(t, sample.Spec{}, 0)
	ref := testutil.Registry(t) + "/stellaops/mirror-bundle"
	res, err := mirror.Push(context.Background(), mirror.PushOptions{Now: testNow, Source: s.dir, Reference: ref, Client: testutil.Client(t), Transfer: transferOpts()})
	if err != nil {
		t.Fatal(err)
	}
	return s, ref, res
}
