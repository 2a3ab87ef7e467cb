package mirror_test

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"testing"

	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	"oras.land/oras-go/v2/registry"

	"github.com/stellaops/mirror/internal/testutil"
	"github.com/stellaops/mirror/pkg/bundle"
	"github.com/stellaops/mirror/pkg/errdef"
	"github.com/stellaops/mirror/pkg/mirror"
)

// TestHeldRootReferrerListedNotThere: the far side holds A (generation
// 100) and B (102). B's root lists, beside its own signature, a referrer
// that is not there: one deleted since the listing, or named by the
// sha256-<hex> fallback index, which anyone with push rights writes. The
// rollback check's read of B ended at that referrer ("not found"), passed
// over B as a root that does not verify, and so C (101), older than B,
// was imported: a rollback. Such a referrer is now skipped, as one whose
// content is no signature is, and B's own signature read: C is refused.
func TestHeldRootReferrerListedNotThere(t *testing.T) {
	ctx := context.Background()
	var o referrersOverride
	host := testutil.RegistryWrapped(t, func(next http.Handler) http.Handler { return o.wrap(next) })
	a, c, r, root := heldNewerThanC(t, host)
	own, err := registry.Referrers(ctx, r, root, "")
	if err != nil {
		t.Fatal(err)
	}
	notThere := ocispec.Descriptor{MediaType: ocispec.MediaTypeImageManifest, ArtifactType: bundle.ArtifactTypeDSSE,
		Digest: digest.FromString("listed, never pushed"), Size: 500}
	o.set(root.Digest, append([]ocispec.Descriptor{notThere}, own...))
	_, err = mirror.Import(ctx, importOpts(t, c, host, a.pub))
	if err == nil || errors.Is(err, errdef.ErrGeneration) && !strings.Contains(err.Error(), "generation 102") {
		t.Errorf("import of C (101) with B (102) held: %v; want it refused", err)
	}
	if d, err := r.Resolve(ctx, "2025.11.0"); err == nil {
		t.Fatalf("C was placed over B: tag 2025.11.0 names %s", d.Digest)
	}
}
