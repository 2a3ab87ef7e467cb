package mirror_test

import (
	"context"
	"errors"
	"net/http"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	"oras.land/oras-go/v2/registry"
	"oras.land/oras-go/v2/registry/remote"

	"github.com/stellaops/mirror/internal/sample"
	"github.com/stellaops/mirror/internal/testutil"
	"github.com/stellaops/mirror/pkg/bundle"
	"github.com/stellaops/mirror/pkg/errdef"
	"github.com/stellaops/mirror/pkg/mirror"
)

// TestHeldRootHiddenBehindReferrers: the far side holds A (generation
// 100) and B (102). Someone with push rights, where tags are immutable,
// attaches 20 referrers to B's root listed ahead of its signature (the
// empty config: listed as a signature of ours could be). A held root's
// verification reads at most 16 signature referrers; passing over B as
// not verified made A the newest held, so C (101), older than B, was
// imported: a rollback. Now a root none of whose first 16 verifies, with
// more past them, fails the check closed (exit 5, naming B's root), and C
// is not placed.
func TestHeldRootHiddenBehindReferrers(t *testing.T) {
	ctx := context.Background()
	var o referrersOverride
	host := testutil.RegistryWrapped(t, func(next http.Handler) http.Handler { return o.wrap(next) })
	a, c, r, root := heldNewerThanC(t, host)
	own, err := registry.Referrers(ctx, r, root, "")
	if err != nil {
		t.Fatal(err)
	}
	junk := map[string]bool{}
	for p := range attachJunk(t, r, root, 20, true) {
		junk[p] = true
	}
	all, err := registry.Referrers(ctx, r, root, "")
	if err != nil {
		t.Fatal(err)
	}
	var ahead, aheadAsSignatures []ocispec.Descriptor
	for _, d := range all {
		if junk["/manifests/"+d.Digest.String()] {
			ahead = append(ahead, d)
			d.ArtifactType = bundle.ArtifactTypeDSSE
			aheadAsSignatures = append(aheadAsSignatures, d)
		}
	}
	// Listed first, as a signature referrer, and not there (a fallback
	// index anyone with push rights writes, or a referrer deleted since the
	// listing): reading it fails, and the referrers past the 16 must still
	// fail the check closed (this failed open for a while: the count of
	// those left unread was kept only where every one read succeeded).
	notThere := ocispec.Descriptor{MediaType: ocispec.MediaTypeImageManifest, ArtifactType: bundle.ArtifactTypeDSSE,
		Digest: digest.FromString("listed, never pushed"), Size: 500}
	for _, tc := range []struct {
		name      string
		referrers []ocispec.Descriptor
	}{
		{"behind 20 referrers", append(slices.Clone(ahead), own...)},
		{"behind 21 referrers, the first not there", append(append([]ocispec.Descriptor{notThere}, aheadAsSignatures...), own...)},
	} {
		o.set(root.Digest, tc.referrers)
		_, err = mirror.Import(ctx, importOpts(t, c, host, a.pub))
		if err == nil || errors.Is(err, errdef.ErrGeneration) && !strings.Contains(err.Error(), "generation 102") {
			t.Errorf("%s: import of C (101) with B (102) held: %v; want it refused", tc.name, err)
		} else if !errors.Is(err, errdef.ErrGeneration) && (!errors.Is(err, errdef.ErrSignature) || !strings.Contains(err.Error(), root.Digest.String())) {
			t.Errorf("%s: import of C: %v; want a signature failure naming B's root %s", tc.name, err, root.Digest)
		}
		if d, err := r.Resolve(ctx, "2025.11.0"); err == nil {
			t.Fatalf("%s: C was placed over B: tag 2025.11.0 names %s", tc.name, d.Digest)
		}
	}
}

// heldNewerThanC sets up the rollback tests' far side in host: A
// (generation 100) and B (102) imported, C (101) made and signed by A's
// signer, not imported. It returns A, C's directory, the bundle
// repository, and B's root as held there.
func heldNewerThanC(t *testing.T, host string) (a *signedSample, c string, r *remote.Repository, root ocispec.Descriptor) {
	t.Helper()
	ctx := context.Background()
	a = newSignedSample(t, sample.Spec{}, 100)
	if _, err := mirror.Import(ctx, importOpts(t, a.dir, host, a.pub)); err != nil {
		t.Fatal(err)
	}
	bundleOf := func(version string, variant uint64, generation int64) string {
		_, releaseFile, advisories := testutil.PushSample(t, a.source, sample.Spec{Version: version, Variant: variant})
		dir := filepath.Join(t.TempDir(), version)
		opts := createOpts(t, releaseFile, advisories, dir)
		opts.Generation = generation
		if _, err := mirror.Create(ctx, opts); err != nil {
			t.Fatal(err)
		}
		sign(t, dir, a.priv)
		return dir
	}
	b := bundleOf("2025.12.0", 7, 102)
	c = bundleOf("2025.11.0", 5, 101)
	placed, err := mirror.Import(ctx, importOpts(t, b, host, a.pub))
	if err != nil {
		t.Fatal(err)
	}
	r, err = testutil.Client(t).Repository(host + "/" + bundle.DefaultBundleRepository)
	if err != nil {
		t.Fatal(err)
	}
	root, err = r.Resolve(ctx, placed.Root.String())
	if err != nil {
		t.Fatal(err)
	}
	return a, c, r, root
}
