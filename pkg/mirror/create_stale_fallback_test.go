package mirror_test

import (
	"context"
	"errors"
	"path/filepath"
	"strings"
	"testing"

	"github.com/opencontainers/go-digest"
	specs "github.com/opencontainers/image-spec/specs-go"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/stellaops/mirror/internal/testutil"
	"github.com/stellaops/mirror/pkg/bundle"
	"github.com/stellaops/mirror/pkg/errdef"
	"github.com/stellaops/mirror/pkg/mirror"
)

// A registry without the referrers API lists an image's referrers in the
// index tagged sha256-<hex>, which whoever pushes a referrer rewrites; a
// referrer deleted by its digest stays listed there. create failed the
// image with "fetch X: X: not found", naming neither the tag at fault nor
// a way out. It still fails (a signature that is gone may matter), but
// names the tag and the digest it lists, once each, and what to do.
func TestCreateStaleFallbackTagEntry(t *testing.T) {
	src := testutil.RegistryNoReferrers(t)
	r := rawRepo{t, src, "app/stale"}
	img := r.image("app", "", nil)
	sig := r.image("sig", "application/vnd.dev.cosign.artifact.sig.v1+json", subjectOf(img))
	gone := r.image("sbom", "application/spdx+json", subjectOf(img))
	sig.ArtifactType, gone.ArtifactType = "application/vnd.dev.cosign.artifact.sig.v1+json", "application/spdx+json"
	fallback := r.pushJSON(ocispec.MediaTypeImageIndex, ocispec.Index{
		Versioned: specs.Versioned{SchemaVersion: 2}, MediaType: ocispec.MediaTypeImageIndex, Manifests: []ocispec.Descriptor{sig, gone}})
	tag := bundle.CosignTag(img.Digest, "")
	repo, err := testutil.Client(t).Repository(src + "/" + r.name)
	if err != nil {
		t.Fatal(err)
	}
	if err := repo.Tag(context.Background(), fallback, tag); err != nil {
		t.Fatal(err)
	}
	// By plain HTTP: oras would take it out of the fallback tag too.
	testutil.Delete(t, src, r.name, "manifests", gone.Digest.String())
	out := filepath.Join(t.TempDir(), "bundle")
	opts := createOpts(t, releaseOf(t, src, map[string]digest.Digest{r.name: img.Digest}), "", out)
	opts.Version = "2025.10.0"
	_, err = mirror.Create(context.Background(), opts)
	if err == nil {
		t.Fatal("create carried an image whose fallback tag lists a referrer the registry does not hold")
	}
	msg := err.Error()
	t.Logf("create: %v", err)
	if !errors.Is(err, errdef.ErrNotFound) || strings.Contains(msg, "\n") ||
		!strings.Contains(msg, r.name+":"+tag+" (the referrers fallback tag)") || strings.Count(msg, gone.Digest.String()) != 1 ||
		!strings.Contains(msg, "--no-referrers") {
		t.Errorf("create: err = %v, want ErrNotFound, one line naming %s:%s (the referrers fallback tag), %s once, and --no-referrers", err, r.name, tag, gone.Digest)
	}
}
