package mirror_test

import (
	"context"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/stellaops/mirror/internal/sample"
	"github.com/stellaops/mirror/internal/testutil"
	"github.com/stellaops/mirror/pkg/mirror"
)

// manifestRequest matches method's requests for the manifests dgs.
func manifestRequest(method string, dgs []digest.Digest) func(*http.Request) bool {
	return func(r *http.Request) bool {
		i := strings.LastIndex(r.URL.Path, "/manifests/")
		return r.Method == method && i >= 0 && slices.Contains(dgs, digest.Digest(r.URL.Path[i+len("/manifests/"):]))
	}
}

// platformManifests are the manifests below the sample's indexes, by index.
func platformManifests(rel *sample.Release) map[digest.Digest][]digest.Digest {
	out := map[digest.Digest][]digest.Digest{}
	for _, img := range rel.Images {
		if img.Descriptor.MediaType != ocispec.MediaTypeImageIndex {
			continue
		}
		for dg := range img.Manifests {
			if dg != img.Descriptor.Digest && (img.Referrer == nil || dg != img.Referrer.Digest) {
				out[img.Descriptor.Digest] = append(out[img.Descriptor.Digest], dg)
			}
		}
	}
	return out
}

// A push asks whether the manifests are there all at once, and sends those
// that no other manifest of the push names (the platforms' manifests of
// both of the sample's indexes, here) at once; each index still goes only
// once its manifests are in. On the old code, which asked and sent one
// manifest after another, one request at a time reached each barrier.
func TestPushSendsManifestsInWaves(t *testing.T) {
	s := newSignedSample(t, sample.Spec{}, 0)
	byIndex := platformManifests(s.rel)
	var platforms []digest.Digest
	for _, dgs := range byIndex {
		platforms = append(platforms, dgs...)
	}
	if len(platforms) != 4 {
		t.Fatalf("the sample has %d platform manifests below its indexes, want 4", len(platforms))
	}
	heads, puts := testutil.NewBarrier(len(platforms)), testutil.NewBarrier(len(platforms))
	var mu sync.Mutex
	var events []string // "start <digest>" when a PUT arrives, "end <digest>" once answered
	record := func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			i := strings.LastIndex(r.URL.Path, "/manifests/sha256:")
			if r.Method != http.MethodPut || i < 0 {
				next.ServeHTTP(w, r)
				return
			}
			dg := r.URL.Path[i+len("/manifests/"):]
			mu.Lock()
			events = append(events, "start "+dg)
			mu.Unlock()
			next.ServeHTTP(w, r)
			mu.Lock()
			events = append(events, "end "+dg)
			mu.Unlock()
		})
	}
	host := testutil.RegistryWrapped(t, func(h http.Handler) http.Handler { return record(heads.Wrap(puts.Wrap(h))) })
	heads.Hold(manifestRequest(http.MethodHead, platforms))
	puts.Hold(manifestRequest(http.MethodPut, platforms))

	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	pushed := make(chan error, 1)
	go func() {
		_, err := mirror.Push(ctx, mirror.PushOptions{Now: testNow, Source: s.dir, Reference: host + "/stellaops/mirror-bundle",
			Client: testutil.Client(t), Transfer: transferOpts()})
		pushed <- err
	}()
	if err := heads.Wait(ctx); err != nil {
		t.Errorf("HEADs of the platform manifests: %v", err)
	}
	if err := puts.Wait(ctx); err != nil {
		t.Errorf("PUTs of the platform manifests: %v", err)
	}
	if err := <-pushed; err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	defer mu.Unlock()
	for index, children := range byIndex {
		start := slices.Index(events, "start "+index.String())
		if start < 0 {
			t.Fatalf("index %s was not pushed: %v", index, events)
		}
		for _, c := range children {
			if end := slices.Index(events, "end "+c.String()); end < 0 || end > start {
				t.Errorf("index %s was sent before its manifest %s was in: %v", index, c, events)
			}
		}
	}
}

// Import writes the images' tags at once, and the bundle's own tag (which
// a generation check reads) only once every other tag is written and read
// back. On the old code, which wrote one tag after another, one tag's PUT
// at a time reached the barrier.
func TestImportWritesImageTagsTogether(t *testing.T) {
	s := newSignedSample(t, sample.Spec{}, 0)
	version := s.rel.Spec.Version
	images := len(s.rel.Images)
	tagPut := func(r *http.Request) (string, bool) {
		i := strings.LastIndex(r.URL.Path, "/manifests/")
		if i < 0 || r.URL.Path[i+len("/manifests/"):] != version {
			return "", false
		}
		return strings.TrimPrefix(r.URL.Path[:i], "/v2/"), true
	}
	puts := testutil.NewBarrier(images)
	var mu sync.Mutex
	var events []string // "put <repo>" as a tag's PUT arrives, "read <repo>" once it was read back
	record := func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if repo, ok := tagPut(r); ok && (r.Method == http.MethodPut || r.Method == http.MethodHead) {
				verb := map[string]string{http.MethodPut: "put ", http.MethodHead: "read "}[r.Method]
				if r.Method == http.MethodPut {
					mu.Lock()
					events = append(events, verb+repo)
					mu.Unlock()
				}
				next.ServeHTTP(w, r)
				if r.Method == http.MethodHead {
					mu.Lock()
					events = append(events, verb+repo)
					mu.Unlock()
				}
				return
			}
			next.ServeHTTP(w, r)
		})
	}
	host := testutil.RegistryWrapped(t, func(h http.Handler) http.Handler { return record(puts.Wrap(h)) })
	puts.Hold(func(r *http.Request) bool {
		repo, ok := tagPut(r)
		return ok && r.Method == http.MethodPut && repo != "stellaops/mirror-bundle"
	})

	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	imported := make(chan error, 1)
	go func() {
		opts := importOpts(t, s.dir, host, s.pub)
		_, err := mirror.Import(ctx, opts)
		imported <- err
	}()
	if err := puts.Wait(ctx); err != nil {
		t.Errorf("PUTs of the images' tags: %v", err)
	}
	if err := <-imported; err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	defer mu.Unlock()
	bundle := slices.Index(events, "put stellaops/mirror-bundle")
	if bundle < 0 {
		t.Fatalf("the bundle's tag was not written: %v", events)
	}
	for _, img := range s.rel.Images {
		if read := slices.Index(events, "read "+img.Repository); read < 0 || read > bundle {
			t.Errorf("the bundle's tag was written before %s:%s was read back: %v", img.Repository, version, events)
		}
	}
}

// Sync and pull read a bundle's manifests from the source registry, which
// may be a WAN away, a level of nesting at a time, each level's at once:
// the platforms' manifests of both of the sample's indexes together. On
// the old code, which read one after another as the placement's walk met
// them, one GET at a time reached the barrier.
func TestSyncAndPullReadManifestsTogether(t *testing.T) {
	s := newSignedSample(t, sample.Spec{}, 0)
	var platforms []digest.Digest
	for _, dgs := range platformManifests(s.rel) {
		platforms = append(platforms, dgs...)
	}
	for _, job := range []string{"sync", "pull"} {
		t.Run(job, func(t *testing.T) {
			// What the root lists (the images) and the images' referrers
			// are read together, then the platforms' manifests below them.
			var tops []digest.Digest
			for _, img := range s.rel.Images {
				tops = append(tops, img.Descriptor.Digest)
				if img.Referrer != nil {
					tops = append(tops, img.Referrer.Digest)
				}
			}
			gets, topGets := testutil.NewBarrier(len(platforms)), testutil.NewBarrier(len(tops))
			source := testutil.RegistryWrapped(t, func(h http.Handler) http.Handler { return topGets.Wrap(gets.Wrap(h)) })
			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
			defer cancel()
			client := testutil.Client(t)
			if _, err := mirror.Push(ctx, mirror.PushOptions{Now: testNow, Source: s.dir, Reference: source + "/stellaops/mirror-bundle",
				Client: client, Transfer: transferOpts()}); err != nil {
				t.Fatal(err)
			}
			gets.Hold(manifestRequest(http.MethodGet, platforms))
			topGets.Hold(manifestRequest(http.MethodGet, tops))
			ref := source + "/stellaops/mirror-bundle:" + s.rel.Spec.Version
			dst, out := testutil.Registry(t)+"/mirror/bundles", t.TempDir()+"/pulled"
			done := make(chan error, 1)
			go func() {
				var err error
				if job == "sync" {
					_, err = mirror.Sync(ctx, mirror.SyncOptions{Now: testNow, Source: ref, Destination: dst,
						Trust: trustKeys(s.pub), Client: client, Transfer: transferOpts()})
				} else {
					_, err = mirror.Pull(ctx, mirror.PullOptions{Reference: ref, Output: out,
						Trust: trustKeys(s.pub), Client: client, Transfer: transferOpts()})
				}
				done <- err
			}()
			if err := topGets.Wait(ctx); err != nil {
				t.Errorf("GETs of the images and their referrers: %v", err)
			}
			if err := gets.Wait(ctx); err != nil {
				t.Errorf("GETs of the platform manifests: %v", err)
			}
			if err := <-done; err != nil {
				t.Fatal(err)
			}
		})
	}
}

// The files a bundle carries beside its graph (public-key.pem, SHA256SUMS
// and its signature, in the files referrer) are sent at once, beside the
// other blobs. On the old code, which sent them one after another once
// every other blob was in, one HEAD at a time reached the barrier.
func TestPushSendsBundleFilesTogether(t *testing.T) {
	s := newSignedSample(t, sample.Spec{}, 0)
	var files []digest.Digest
	for _, name := range []string{"public-key.pem", "SHA256SUMS", "SHA256SUMS.sig"} {
		data, err := os.ReadFile(filepath.Join(s.dir, name))
		if err != nil {
			t.Fatal(err)
		}
		files = append(files, digest.FromBytes(data))
	}
	// They go beside the other blobs: the base layer's HEAD, held, does
	// not keep them waiting.
	files = append(files, baseLayer(s.rel))
	pushWhileHeld(t, s, len(files), "HEADs of the bundle's files", func(r *http.Request) bool {
		i := strings.LastIndex(r.URL.Path, "/blobs/")
		return r.Method == http.MethodHead && i >= 0 && slices.Contains(files, digest.Digest(r.URL.Path[i+len("/blobs/"):]))
	})
}

// pushWhileHeld pushes s's bundle into a registry that holds the requests
// hold matches until n of them are in flight together, and fails the test
// (naming them what) if they never are: the push sends them one after
// another.
func pushWhileHeld(t *testing.T, s *signedSample, n int, what string, hold func(*http.Request) bool) {
	t.Helper()
	b := testutil.NewBarrier(n)
	host := testutil.RegistryWrapped(t, b.Wrap)
	b.Hold(hold)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	pushed := make(chan error, 1)
	go func() {
		_, err := mirror.Push(ctx, mirror.PushOptions{Now: testNow, Source: s.dir, Reference: host + "/stellaops/mirror-bundle",
			Client: testutil.Client(t), Transfer: transferOpts()})
		pushed <- err
	}()
	if err := b.Wait(ctx); err != nil {
		t.Errorf("%s: %v", what, err)
	}
	if err := <-pushed; err != nil {
		t.Fatal(err)
	}
}

// imageManifests are every manifest of the sample's images, their
// referrers included.
func imageManifests(rel *sample.Release) []digest.Digest {
	var out []digest.Digest
	for _, img := range rel.Images {
		for dg := range img.Manifests {
			out = append(out, dg)
		}
	}
	return out
}

// After the images, a push asks whether the bundle's own manifests (its
// metadata, root, signature and files referrer) are there all at once,
// though it sends them phase after phase. On the old code, which asked
// phase by phase, two of the four at most (the root's phase) reached the
// barrier together.
func TestPushAsksForTheBundlesManifestsTogether(t *testing.T) {
	s := newSignedSample(t, sample.Spec{}, 0)
	images := imageManifests(s.rel)
	pushWhileHeld(t, s, 4, "HEADs of the bundle's manifests", func(r *http.Request) bool {
		i := strings.LastIndex(r.URL.Path, "/manifests/sha256:")
		return r.Method == http.MethodHead && i >= 0 && !slices.Contains(images, digest.Digest(r.URL.Path[i+len("/manifests/"):]))
	})
}

// Once the referrers are pushed, the listings that make sure each is
// listed under its subject are asked for at once, one a subject. On the
// old code, which listed one referrer's subject after another, one listing
// at a time reached the barrier.
func TestPushRelistsSubjectsTogether(t *testing.T) {
	// Two images more than the sample's, each with a referrer of its own.
	s := newSignedSample(t, sample.Spec{Images: len(sample.Components) + 2}, 0)
	var subjects []digest.Digest
	for _, img := range s.rel.Images {
		if img.Referrer != nil {
			subjects = append(subjects, img.Descriptor.Digest)
		}
	}
	if len(subjects) < 2 {
		t.Fatalf("the sample has %d images with a referrer, want 2 or more", len(subjects))
	}
	pushWhileHeld(t, s, len(subjects), "listings of the referrers' subjects", func(r *http.Request) bool {
		i := strings.LastIndex(r.URL.Path, "/referrers/")
		return r.Method == http.MethodGet && i >= 0 && slices.Contains(subjects, digest.Digest(r.URL.Path[i+len("/referrers/"):]))
	})
}

// baseLayer is the largest blob of the sample's first image: the layer
// every image shares.
func baseLayer(rel *sample.Release) digest.Digest {
	var base digest.Digest
	img := rel.Images[0]
	for dg, size := range img.Blobs {
		if !img.Manifests[dg] && (base == "" || size > img.Blobs[base] || size == img.Blobs[base] && dg < base) {
			base = dg
		}
	}
	return base
}

// --concurrency bounds the manifests in flight as it bounds the blobs: the
// repositories' waves share it. Pushed repository by repository at once,
// each repository's wave at once with a bound of its own, the manifests in
// flight came to the square of it: 3 and more PUTs of the platforms'
// manifests (of two repositories) at once with --concurrency 2.
func TestImportKeepsManifestsWithinConcurrency(t *testing.T) {
	t.Parallel()
	s := newSignedSample(t, sample.Spec{}, 0)
	var platforms []digest.Digest
	for _, dgs := range platformManifests(s.rel) {
		platforms = append(platforms, dgs...)
	}
	const limit = 2
	over := testutil.NewBarrier(limit + 1)
	host := testutil.RegistryWrapped(t, over.Wrap)
	over.Hold(manifestRequest(http.MethodPut, platforms))

	ctx := context.Background()
	imported := make(chan error, 1)
	go func() {
		opts := importOpts(t, s.dir, host, s.pub)
		opts.Transfer.Concurrency = limit
		_, err := mirror.Import(ctx, opts)
		imported <- err
	}()
	// The safety net is the proof here: a client that keeps the bound
	// never gets limit+1 requests to the barrier, which gives up and lets
	// them go after a while.
	wait, cancel := context.WithTimeout(ctx, 3*time.Second)
	defer cancel()
	if err := over.Wait(wait); err == nil {
		t.Errorf("%d manifest PUTs were in flight together with --concurrency %d", limit+1, limit)
	}
	if err := <-imported; err != nil {
		t.Fatal(err)
	}
}

// The bundle's files go beside the other blobs; a refusal of one of them
// ends the others, and is the error told. On the old code the other blobs
// went on regardless (a large layer's upload to its end), and their
// context's end, when it came, was told instead of the refusal: here the
// base layer's HEAD, held until its request is cancelled, kept the push
// waiting to the safety net.
func TestPushFileBlobRefusalEndsTheOtherBlobs(t *testing.T) {
	s := newSignedSample(t, sample.Spec{}, 0)
	data, err := os.ReadFile(filepath.Join(s.dir, "public-key.pem"))
	if err != nil {
		t.Fatal(err)
	}
	key, base := digest.FromBytes(data), baseLayer(s.rel)
	host := testutil.RegistryWrapped(t, func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			i := strings.LastIndex(r.URL.Path, "/blobs/")
			switch {
			case r.Method == http.MethodHead && i >= 0 && digest.Digest(r.URL.Path[i+len("/blobs/"):]) == base:
				<-r.Context().Done() // held until the client gives up on it
				return
			case r.Method == http.MethodPut && r.URL.Query().Get("digest") == key.String():
				w.Header().Set("Content-Type", "application/json")
				w.WriteHeader(http.StatusForbidden)
				_, _ = w.Write([]byte(`{"errors":[{"code":"DENIED","message":"not this one"}]}`))
				return
			}
			next.ServeHTTP(w, r)
		})
	})
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	_, err = mirror.Push(ctx, mirror.PushOptions{Now: testNow, Source: s.dir, Reference: host + "/stellaops/mirror-bundle",
		Client: testutil.Client(t), Transfer: transferOpts()})
	if err == nil || ctx.Err() != nil || !strings.Contains(err.Error(), key.String()) {
		t.Fatalf("push: err = %v (context: %v), want the refusal of %s (public-key.pem)", err, ctx.Err(), key)
	}
}
