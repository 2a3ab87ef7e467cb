package transfer_test

import (
	"context"
	"strings"
	"testing"

	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	"oras.land/oras-go/v2/content"

	"github.com/stellaops/mirror/internal/testutil"
	"github.com/stellaops/mirror/pkg/transfer"
)

// A document a registry does not hold is named by where it was asked
// for: "manifest" when fetched from the repository's /manifests/ (its
// manifest store, or the repository itself routing an OCI artifact
// manifest there), whatever its media type, even none; "blob" from
// /blobs/. It said "blob" of an artifact manifest or a descriptor with
// no media type fetched as a manifest, as of a layer.
func TestFetchBytesNamesWhatItFetched(t *testing.T) {
	repo, err := testutil.Client(t).Repository(testutil.Registry(t) + "/test/gone")
	if err != nil {
		t.Fatal(err)
	}
	const artifact = "application/vnd.oci.artifact.manifest.v1+json"
	missing := digest.FromString("gone")
	for _, c := range []struct {
		name      string
		src       content.Fetcher
		mediaType string
		want      string
	}{
		{"manifest store, artifact manifest", repo.Manifests(), artifact, "manifest"},
		{"manifest store, no media type", repo.Manifests(), "", "manifest"},
		{"manifest store, image manifest", repo.Manifests(), ocispec.MediaTypeImageManifest, "manifest"},
		{"repository, artifact manifest", repo, artifact, "manifest"},
		{"repository, image index", repo, ocispec.MediaTypeImageIndex, "manifest"},
		{"repository, no media type", repo, "", "blob"},
		{"repository, config", repo, ocispec.MediaTypeImageConfig, "blob"},
		{"blob store, image manifest", repo.Blobs(), ocispec.MediaTypeImageManifest, "blob"},
	} {
		_, err := transfer.FetchBytes(context.Background(), c.src, ocispec.Descriptor{MediaType: c.mediaType, Digest: missing, Size: 4})
		want := c.want + " " + missing.String() + ": "
		if err == nil || !strings.HasPrefix(err.Error(), want) || strings.Count(err.Error(), missing.String()) != 1 {
			t.Errorf("%s: FetchBytes: %v, want it to start %q, naming the digest once", c.name, err, want)
		}
	}
}
