package mirror_test

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/stellaops/mirror/internal/sample"
	"github.com/stellaops/mirror/internal/testutil"
	"github.com/stellaops/mirror/pkg/bundle"
	"github.com/stellaops/mirror/pkg/errdef"
	"github.com/stellaops/mirror/pkg/layout"
	"github.com/stellaops/mirror/pkg/mirror"
)

// A registry bundle's root referrers (its signing) were listed only once
// its metadata manifest and manifest.json were read: two round trips
// before the listing could start. The listing now goes beside the
// metadata manifest's GET; on the old code the metadata's GET was held
// alone.
func TestRegistryBundleReferrersListedBesideMetadata(t *testing.T) {
	s := newSignedSample(t, sample.Spec{}, 0)
	rootIdx, meta := rootAndMetadata(t, s.dir)
	ref, together := pushedBehindBarrier(t, s)
	together.Hold(func(r *http.Request) bool {
		return r.Method == http.MethodGet && (strings.HasSuffix(r.URL.Path, "/manifests/"+meta) || strings.HasSuffix(r.URL.Path, "/referrers/"+rootIdx))
	})
	runTogether(t, together, "the metadata manifest and the root's referrers", func() error {
		_, err := mirror.Pull(context.Background(), mirror.PullOptions{Reference: ref, Output: filepath.Join(t.TempDir(), "pulled"),
			Trust: trustKeys(s.pub), Client: testutil.Client(t), Transfer: transferOpts()})
		return err
	})
}

// A registry bundle's root referrers were weighed (the signature and
// files referrers read) only once manifest.json was read, a round trip
// after the listing that names them. They are now weighed as soon as they
// are listed, beside manifest.json's GET; on the old code that GET was
// held alone.
func TestRegistryBundleReferrersWeighedBesideManifestFile(t *testing.T) {
	t.Parallel()
	s := newSignedSample(t, sample.Spec{}, 0)
	sig := signatureReferrerPath(t, s.dir)
	manifestFile := headFileBlob(t, s.dir, layout.ManifestFile)
	ref, together := pushedBehindBarrier(t, s)
	together.Hold(func(r *http.Request) bool {
		return r.Method == http.MethodGet && (r.URL.Path == manifestFile || r.URL.Path == sig)
	})
	runTogether(t, together, "manifest.json and the signature referrer", func() error {
		_, err := mirror.Pull(context.Background(), mirror.PullOptions{Reference: ref, Output: filepath.Join(t.TempDir(), "pulled"),
			Trust: trustKeys(s.pub), Client: testutil.Client(t), Transfer: transferOpts()})
		return err
	})
}

// A registry bundle's signing was read in two round trips after its
// referrers were weighed: SHA256SUMS first, to pair the files referrer
// with the signature, then the envelope with the files, SHA256SUMS again
// among them; and the signature referrer, weighed without being held, was
// read again for the trust check and the plan. Where the referrers make
// one signing, its envelope and files are now read at once, each once,
// and the signature referrer is held as weighed. On the old code the
// SHA256SUMS GET was held alone.
func TestRegistryBundleSigningReadAtOnce(t *testing.T) {
	t.Parallel()
	s := newSignedSample(t, sample.Spec{}, 0)
	sig := signatureReferrerPath(t, s.dir)
	envelope := envelopeBlob(t, s.dir)
	sums := headFileBlob(t, s.dir, layout.ChecksumsFile)
	ref, together := pushedBehindBarrier(t, s)
	var sigReads, sumsReads atomic.Int32
	together.Hold(func(r *http.Request) bool {
		if r.Method != http.MethodGet {
			return false
		}
		switch r.URL.Path {
		case sig:
			sigReads.Add(1)
		case sums:
			return sumsReads.Add(1) == 1
		case envelope:
			return true
		}
		return false
	})
	runTogether(t, together, "the envelope and SHA256SUMS", func() error {
		_, err := mirror.Sync(context.Background(), mirror.SyncOptions{Now: testNow, Source: ref, Destination: testutil.Registry(t) + "/stellaops/mirror-bundle",
			Trust: trustKeys(s.pub), Client: testutil.Client(t), Transfer: transferOpts()})
		return err
	})
	if n := sigReads.Load(); n != 1 {
		t.Errorf("the signature referrer read %d times, want once (weighed and held)", n)
	}
	if n := sumsReads.Load(); n != 1 {
		t.Errorf("SHA256SUMS read %d times, want once", n)
	}
}

// signatureReferrerPath is the manifest path of the signature referrer
// of the bundle directory dir, pushed to stellaops/mirror-bundle.
func signatureReferrerPath(t *testing.T, dir string) string {
	t.Helper()
	for _, d := range bundleDirIndex(t, dir).Manifests {
		if d.ArtifactType == bundle.ArtifactTypeDSSE {
			return "/v2/stellaops/mirror-bundle/manifests/" + d.Digest.String()
		}
	}
	t.Fatal("the bundle has no signature referrer")
	return ""
}

// headFileBlob is the blob path of the head file name of the bundle
// directory dir, pushed to stellaops/mirror-bundle.
func headFileBlob(t *testing.T, dir, name string) string {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(dir, name))
	if err != nil {
		t.Fatal(err)
	}
	return "/v2/stellaops/mirror-bundle/blobs/" + digest.FromBytes(data).String()
}

// bundleDirIndex reads the index.json of the bundle directory dir.
func bundleDirIndex(t *testing.T, dir string) ocispec.Index {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(dir, layout.IndexFile))
	if err != nil {
		t.Fatal(err)
	}
	var index ocispec.Index
	if err := json.Unmarshal(data, &index); err != nil {
		t.Fatal(err)
	}
	return index
}

// pushedBehindBarrier pushes s into a registry behind a barrier of two,
// which holds nothing until told, and returns the bundle's reference.
func pushedBehindBarrier(t *testing.T, s *signedSample) (string, *testutil.Barrier) {
	t.Helper()
	together := testutil.NewBarrier(2)
	ref := testutil.RegistryWrapped(t, together.Wrap) + "/stellaops/mirror-bundle:2025.10.0"
	pushSampleTo(t, s, ref)
	return ref, together
}

// pushSampleTo pushes the sample's bundle directory to ref.
func pushSampleTo(t *testing.T, s *signedSample, ref string) {
	t.Helper()
	if _, err := mirror.Push(context.Background(), mirror.PushOptions{Now: testNow, Source: s.dir, Reference: ref,
		Client: testutil.Client(t), Transfer: transferOpts()}); err != nil {
		t.Fatal(err)
	}
}

// rootAndMetadata returns the digests of the root and of the metadata
// manifest of the bundle directory dir.
func rootAndMetadata(t *testing.T, dir string) (root, meta string) {
	t.Helper()
	for _, d := range bundleDirIndex(t, dir).Manifests {
		if d.ArtifactType != bundle.ArtifactTypeBundle {
			continue
		}
		data, err := os.ReadFile(filepath.Join(dir, "blobs", "sha256", d.Digest.Encoded()))
		if err != nil {
			t.Fatal(err)
		}
		idx, err := bundle.ParseRoot(data)
		if err != nil {
			t.Fatal(err)
		}
		md, err := bundle.MetadataDescriptor(idx)
		if err != nil {
			t.Fatal(err)
		}
		return d.Digest.String(), md.Digest.String()
	}
	t.Fatal("the bundle has no root")
	return "", ""
}

// The root's referrers are listed beside the metadata's read; where the
// metadata fails (here a metadata manifest served with other bytes), its
// error is told at once, the listing cut short, not waited for (a
// hostile registry can page a listing to its bound, or hang it).
func TestRegistryBundleMetadataErrorEndsReferrersListing(t *testing.T) {
	s := newSignedSample(t, sample.Spec{}, 0)
	root, meta := rootAndMetadata(t, s.dir)
	var hostile atomic.Bool
	host := testutil.RegistryWrapped(t, func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			switch {
			case !hostile.Load() || r.Method != http.MethodGet:
			case strings.HasSuffix(r.URL.Path, "/referrers/"+root):
				<-r.Context().Done() // hangs until the client gives up
				return
			case strings.HasSuffix(r.URL.Path, "/manifests/"+meta):
				rec := httptest.NewRecorder()
				next.ServeHTTP(rec, r)
				body := rec.Body.Bytes()
				body[len(body)/2] ^= 1 // as long, other bytes
				for k, v := range rec.Header() {
					w.Header()[k] = v
				}
				w.WriteHeader(rec.Code)
				_, _ = w.Write(body)
				return
			}
			next.ServeHTTP(w, r)
		})
	})
	ref := host + "/stellaops/mirror-bundle:2025.10.0"
	pushSampleTo(t, s, ref)
	hostile.Store(true)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	_, err := mirror.Pull(ctx, mirror.PullOptions{Reference: ref, Output: filepath.Join(t.TempDir(), "pulled"),
		Trust: trustKeys(s.pub), Client: testutil.Client(t), Transfer: transferOpts()})
	if ctx.Err() != nil || !errors.Is(err, errdef.ErrDigestMismatch) || !strings.Contains(err.Error(), meta) {
		t.Fatalf("pull of a bundle whose metadata manifest is served with other bytes: %v (deadline: %v), want the digest mismatch naming %s, told at once", err, ctx.Err(), meta)
	}
}

// A registry bundle's image manifests were read only once its signing
// was: two round trips (two levels of image manifests) after the
// envelope, on the chain of every pull and sync. Pull and sync now fetch
// them while the signing is read; on the old code the envelope's GET was
// held alone.
func TestRegistryBundleImagesReadBesideSigning(t *testing.T) {
	s := newSignedSample(t, sample.Spec{}, 0)
	envelope := envelopeBlob(t, s.dir)
	image := "/v2/stellaops/mirror-bundle/manifests/" + s.rel.Images[0].Descriptor.Digest.String()
	for _, read := range []struct {
		name string
		run  func(ref string) error
	}{
		{"pull", func(ref string) error {
			_, err := mirror.Pull(context.Background(), mirror.PullOptions{Reference: ref, Output: filepath.Join(t.TempDir(), "pulled"),
				Trust: trustKeys(s.pub), Client: testutil.Client(t), Transfer: transferOpts()})
			return err
		}},
		{"sync", func(ref string) error {
			_, err := mirror.Sync(context.Background(), mirror.SyncOptions{Now: testNow, Source: ref, Destination: testutil.Registry(t) + "/stellaops/mirror-bundle",
				Trust: trustKeys(s.pub), Client: testutil.Client(t), Transfer: transferOpts()})
			return err
		}},
	} {
		t.Run(read.name, func(t *testing.T) {
			ref, together := pushedBehindBarrier(t, s)
			together.Hold(func(r *http.Request) bool {
				return r.Method == http.MethodGet && (r.URL.Path == envelope || r.URL.Path == image)
			})
			runTogether(t, together, "the envelope and the first image's manifest", func() error { return read.run(ref) })
		})
	}
}

// The early fetch of a registry bundle's image manifests starts from its
// root, not from manifest.json: the root lists every image and referrer.
// Here the metadata manifest's GET is held with the first image
// manifest's; when the fetch waited for manifest.json (which the metadata
// manifest leads to), the metadata's GET was held alone.
func TestRegistryBundleImagesReadBesideMetadata(t *testing.T) {
	s := newSignedSample(t, sample.Spec{}, 0)
	_, meta := rootAndMetadata(t, s.dir)
	image := "/v2/stellaops/mirror-bundle/manifests/" + s.rel.Images[0].Descriptor.Digest.String()
	ref, together := pushedBehindBarrier(t, s)
	together.Hold(func(r *http.Request) bool {
		return r.Method == http.MethodGet && (strings.HasSuffix(r.URL.Path, "/manifests/"+meta) || r.URL.Path == image)
	})
	runTogether(t, together, "the metadata manifest and the first image's manifest", func() error {
		_, err := mirror.Pull(context.Background(), mirror.PullOptions{Reference: ref, Output: filepath.Join(t.TempDir(), "pulled"),
			Trust: trustKeys(s.pub), Client: testutil.Client(t), Transfer: transferOpts()})
		return err
	})
}

// envelopeBlob is the path under which a registry serves the envelope of
// the bundle directory dir pushed to stellaops/mirror-bundle.
func envelopeBlob(t *testing.T, dir string) string {
	return headFileBlob(t, dir, layout.EnvelopeFile)
}

// runTogether runs run while together waits (20 s at most) for what it
// holds to be in flight at once, naming what in the error if it was not;
// the test fails if run does.
func runTogether(t *testing.T, together *testutil.Barrier, what string, run func() error) {
	t.Helper()
	done := make(chan error, 1)
	go func() { done <- run() }()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if err := together.Wait(ctx); err != nil {
		t.Errorf("%s: %v", what, err)
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}

// A bundle signed again and pushed again has two signature referrers; the
// one chosen was read again for the trust check and the plan, after all
// of them were weighed. It is now held as weighed: each signature
// referrer is read once (three reads on the old code).
func TestChosenOfTwoSigningsReadOnce(t *testing.T) {
	t.Parallel()
	s := newSignedSample(t, sample.Spec{}, 0)
	var sigReads atomic.Int32
	var mu sync.Mutex
	var sigs []string
	host := testutil.RegistryWrapped(t, func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			mu.Lock()
			isSig := slices.Contains(sigs, r.URL.Path)
			mu.Unlock()
			if r.Method == http.MethodGet && isSig {
				sigReads.Add(1)
			}
			next.ServeHTTP(w, r)
		})
	})
	ref := host + "/stellaops/mirror-bundle"
	dir := copyBundle(t, s.dir)
	mu.Lock()
	sigs = append(sigs, signatureReferrerPath(t, dir))
	mu.Unlock()
	if _, err := mirror.Push(context.Background(), mirror.PushOptions{Now: testNow, Source: dir, Reference: ref, Client: testutil.Client(t), Transfer: transferOpts()}); err != nil {
		t.Fatal(err)
	}
	priv2, pub2 := testKeys(t, "b")
	sign(t, dir, priv2, func(o *mirror.SignOptions) { o.Created = fixedTime.Add(time.Minute) })
	mu.Lock()
	sigs = append(sigs, signatureReferrerPath(t, dir))
	mu.Unlock()
	if _, err := mirror.Push(context.Background(), mirror.PushOptions{Now: testNow, Source: dir, Reference: ref, Client: testutil.Client(t), Transfer: transferOpts()}); err != nil {
		t.Fatal(err)
	}
	sigReads.Store(0)
	if _, err := mirror.Pull(context.Background(), mirror.PullOptions{Reference: ref + ":" + s.rel.Spec.Version, Output: filepath.Join(t.TempDir(), "pulled"),
		Trust: mirror.TrustOptions{Keys: []string{s.pub, pub2}, Threshold: 2}, Client: testutil.Client(t), Transfer: transferOpts()}); err != nil {
		t.Fatal(err)
	}
	if n := sigReads.Load(); n != 2 {
		t.Errorf("the two signature referrers were read %d times in all, want twice (each weighed once, the chosen held)", n)
	}
}

// manifest.json and the envelope are read with the signing, verified;
// pull and sync then copied each again from the source, as any other
// blob of the bundle. They now copy the bytes they hold: each is read
// from the source once (twice on the old code).
func TestRegistryBundleHeadBlobsReadOnce(t *testing.T) {
	t.Parallel()
	s := newSignedSample(t, sample.Spec{}, 0)
	manifestFile := headFileBlob(t, s.dir, layout.ManifestFile)
	envelope := envelopeBlob(t, s.dir)
	var manifestReads, envelopeReads atomic.Int32
	host := testutil.RegistryWrapped(t, func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.Method == http.MethodGet {
				switch r.URL.Path {
				case manifestFile:
					manifestReads.Add(1)
				case envelope:
					envelopeReads.Add(1)
				}
			}
			next.ServeHTTP(w, r)
		})
	})
	ref := host + "/stellaops/mirror-bundle:" + s.rel.Spec.Version
	pushSampleTo(t, s, ref)
	for _, read := range []struct {
		name string
		run  func() error
	}{
		{"pull", func() error {
			pulled := filepath.Join(t.TempDir(), "pulled")
			if _, err := mirror.Pull(context.Background(), mirror.PullOptions{Reference: ref, Output: pulled,
				Trust: trustKeys(s.pub), Client: testutil.Client(t), Transfer: transferOpts()}); err != nil {
				return err
			}
			_, err := mirror.Verify(context.Background(), mirror.VerifyOptions{Envelope: pulled, Trust: trustKeys(s.pub), Now: testNow})
			return err
		}},
		{"sync", func() error {
			dst := testutil.Registry(t) + "/stellaops/mirror-bundle"
			if _, err := mirror.Sync(context.Background(), mirror.SyncOptions{Now: testNow, Source: ref, Destination: dst,
				Trust: trustKeys(s.pub), Client: testutil.Client(t), Transfer: transferOpts()}); err != nil {
				return err
			}
			_, err := mirror.Pull(context.Background(), mirror.PullOptions{Reference: dst + ":" + s.rel.Spec.Version, Output: filepath.Join(t.TempDir(), "synced"),
				Trust: trustKeys(s.pub), Client: testutil.Client(t), Transfer: transferOpts()})
			return err
		}},
	} {
		manifestReads.Store(0)
		envelopeReads.Store(0)
		if err := read.run(); err != nil {
			t.Fatalf("%s: %v", read.name, err)
		}
		if m, e := manifestReads.Load(), envelopeReads.Load(); m != 1 || e != 1 {
			t.Errorf("%s read manifest.json %d times and the envelope %d times from the source, want once each", read.name, m, e)
		}
	}
}
