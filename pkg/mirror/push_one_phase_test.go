package mirror_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/stellaops/mirror/internal/sample"
	"github.com/stellaops/mirror/internal/testutil"
	"github.com/stellaops/mirror/pkg/bundle"
	"github.com/stellaops/mirror/pkg/mirror"
)

// After the images, a push sends the rest of the bundle's manifests as one
// phase: an image's SBOM referrer goes beside the bundle's metadata
// manifest, and (the registry serving the referrers API) the signature
// beside the files referrer, both naming the root. On the old code, phase
// after phase (referrers, root, signature, files) each with its own
// relisting, one of each pair at a time reached its barrier.
func TestPushSendsBundleManifestsInOnePhase(t *testing.T) {
	s := newSignedSample(t, sample.Spec{}, 0)
	var sbom string
	for _, img := range s.rel.Images {
		if img.Referrer != nil {
			sbom = img.Referrer.Digest.String()
			break
		}
	}
	if sbom == "" {
		t.Fatal("the sample has no image with an SBOM referrer")
	}
	kind := manifestKind(sbom)
	besideRoot, ofRoot := testutil.NewBarrier(2), testutil.NewBarrier(2)
	classify := func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			r.Header.Set("X-Test-Kind", kind(r))
			next.ServeHTTP(w, r)
		})
	}
	host := testutil.RegistryWrapped(t, func(h http.Handler) http.Handler { return classify(besideRoot.Wrap(ofRoot.Wrap(h))) })
	besideRoot.Hold(func(r *http.Request) bool { return r.Header.Get("X-Test-Kind") == "beside-root" })
	ofRoot.Hold(func(r *http.Request) bool { return r.Header.Get("X-Test-Kind") == "of-root" })

	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	wait := startPush(ctx, t, s, host, mirror.TrustOptions{})
	if err := besideRoot.Wait(ctx); err != nil {
		t.Errorf("PUTs of an image's SBOM and the bundle's metadata: %v", err)
	}
	if err := ofRoot.Wait(ctx); err != nil {
		t.Errorf("PUTs of the root's signature and files referrer: %v", err)
	}
	res := wait()
	if res.ReferrersMode != mirror.ReferrersAPI {
		t.Errorf("referrers mode %q, want %q", res.ReferrersMode, mirror.ReferrersAPI)
	}
}

// manifestKind names a manifest PUT the barriers look for, from its body:
// "beside-root" for the SBOM sbom and the metadata, "of-root" for a
// referrer of the root (neither an image's nor an SBOM's).
func manifestKind(sbom string) func(r *http.Request) string {
	return func(r *http.Request) string {
		if r.Method != http.MethodPut || !strings.Contains(r.URL.Path, "/manifests/") {
			return ""
		}
		if strings.HasSuffix(r.URL.Path, "/manifests/"+sbom) {
			return "beside-root"
		}
		body, err := io.ReadAll(r.Body)
		if err != nil {
			return ""
		}
		r.Body = io.NopCloser(bytes.NewReader(body))
		var doc ocispec.Manifest
		if json.Unmarshal(body, &doc) != nil {
			return ""
		}
		switch {
		case doc.ArtifactType == bundle.ArtifactTypeMetadata:
			return "beside-root"
		case doc.Subject != nil && (doc.ArtifactType == bundle.ArtifactTypeDSSE || doc.ArtifactType == bundle.ArtifactTypeFiles):
			return "of-root"
		}
		return ""
	}
}

// Without the referrers API each referrer's push reads and rewrites its
// subject's sha256-<hex> index. The root's signature and files referrer
// went one after the other (three round trips each); they now go
// together, their index read and rewritten once for both, and both are
// listed after. On the old code one PUT was held alone.
func TestFallbackReferrersOfOneSubjectGoTogether(t *testing.T) {
	s := newSignedSample(t, sample.Spec{}, 0)
	ofRoot := testutil.NewBarrier(2)
	kind := manifestKind("none")
	ofRoot.Hold(func(r *http.Request) bool { return kind(r) == "of-root" })
	host := testutil.ProxyWrapped(t, testutil.RegistryNoReferrers(t), ofRoot.Wrap)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	wait := startPush(ctx, t, s, host, mirror.TrustOptions{})
	if err := ofRoot.Wait(ctx); err != nil {
		t.Errorf("PUTs of the root's signature and files referrer: %v", err)
	}
	res := wait()
	if res.ReferrersMode == mirror.ReferrersAPI {
		t.Errorf("referrers mode %q, want the fallback tag", res.ReferrersMode)
	}
	repo := orasRepo(t, host, "stellaops/mirror-bundle")
	root, err := repo.Resolve(ctx, s.rel.Spec.Version)
	if err != nil || root.Digest != res.Root {
		t.Fatalf("bundle tag names %s (%v), want %s", root.Digest, err, res.Root)
	}
	var types []string
	if err := repo.Referrers(ctx, root, "", func(page []ocispec.Descriptor) error {
		for _, d := range page {
			types = append(types, d.ArtifactType)
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	slices.Sort(types)
	if want := []string{bundle.ArtifactTypeDSSE, bundle.ArtifactTypeFiles}; !slices.Equal(types, want) {
		t.Errorf("the root's fallback index lists %q, want %q", types, want)
	}
}

// startPush starts a push of s into host's bundle repository and returns
// the wait for its result, which fails the test if the push failed.
func startPush(ctx context.Context, t *testing.T, s *signedSample, host string, trust mirror.TrustOptions) func() *mirror.PlaceResult {
	type result struct {
		res *mirror.PlaceResult
		err error
	}
	done := make(chan result, 1)
	go func() {
		res, err := mirror.Push(ctx, mirror.PushOptions{Now: testNow, Source: s.dir, Reference: host + "/stellaops/mirror-bundle",
			Trust: trust, Client: testutil.Client(t), Transfer: transferOpts()})
		done <- result{res, err}
	}()
	return func() *mirror.PlaceResult {
		t.Helper()
		r := <-done
		if r.err != nil {
			t.Fatal(r.err)
		}
		return r.res
	}
}
