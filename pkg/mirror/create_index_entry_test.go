package mirror_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/opencontainers/go-digest"

	"github.com/stellaops/mirror/internal/testutil"
	"github.com/stellaops/mirror/pkg/bundle"
	"github.com/stellaops/mirror/pkg/errdef"
	"github.com/stellaops/mirror/pkg/mirror"
)

// An image whose index lists an OCI artifact manifest (a media type OCI
// 1.1 withdrew) is refused by create, exit 11, naming the image, its
// line, the index (once: the reference pins it by its digest) and the
// entry, and no bundle is written: the entry
// would be carried as a blob and pushed to /blobs/, where the far side's
// registry, holding no manifest of that digest, refuses the index. With
// --platform, which carries the platform's manifest and not the index,
// the same image is taken, its search passing over the entry (as OCI has
// clients pass over an entry of a type they do not know) even where the
// entry names the platform asked for. It was carried, and the bundle
// failed at push.
func TestCreateRefusesAnIndexListingAnArtifactManifest(t *testing.T) {
	src := testutil.Registry(t)
	r := rawRepo{t, src, "app/artifact"}
	const artifactManifest = "application/vnd.oci.artifact.manifest.v1+json"
	art := r.pushJSON(artifactManifest, map[string]any{"mediaType": artifactManifest, "artifactType": "application/x.test"})
	amd := r.image("amd64", "", nil)
	idx := r.index(withPlatform(art, "linux", "amd64"), withPlatform(amd, "linux", "amd64"))
	release := releaseOf(t, src, map[string]digest.Digest{r.name: idx.Digest})
	out := filepath.Join(t.TempDir(), "bundle")
	opts := createOpts(t, release, "", out)
	opts.Version = "2025.10.0"
	_, err := mirror.Create(context.Background(), opts)
	// The reference gives the index's digest: "the pinned index", not
	// its digest a second time (bundle.PinnedOnce).
	want := "image " + src + "/" + r.name + "@" + idx.Digest.String() + " (" + release + ":1): " +
		"the pinned index lists " + art.Digest.String() + " of media type \"" + artifactManifest + "\", not an image manifest or index"
	if !errors.Is(err, errdef.ErrMalformed) || !strings.Contains(err.Error(), want) || strings.Count(err.Error(), idx.Digest.String()) != 1 {
		t.Errorf("create: %v, want ErrMalformed saying %q, naming the index once", err, want)
	}
	if _, serr := os.Stat(out); !errors.Is(serr, os.ErrNotExist) {
		t.Errorf("create refused, yet %s is there (%v)", out, serr)
	}

	opts = createOpts(t, release, "", filepath.Join(t.TempDir(), "bundle"))
	opts.Version, opts.Platform = "2025.10.0", "linux/amd64"
	if _, err := mirror.Create(context.Background(), opts); err != nil {
		t.Fatalf("create --platform linux/amd64: %v", err)
	}
	if m := readManifest(t, opts.Output); len(m.Images) != 1 || m.Images[0].Digest != amd.Digest {
		t.Errorf("create --platform linux/amd64 carried %+v, want the amd64 manifest %s", m.Images, amd.Digest)
	}
}

// create --platform passes over an index entry that is no manifest or
// index by the entry's own media type, not by its digest: an index listing
// one manifest twice, first under the artifact manifest's media type and
// then as the image manifest it is, both for linux/amd64, gives the image
// manifest, carried as such. The search kept every entry whose digest an
// entry it took shared, so it chose the first, and create failed fetching
// it as an artifact manifest ("blob sha256:…: … mismatch response
// Content-Type").
func TestCreatePlatformPassesOverAnArtifactEntryByItsMediaType(t *testing.T) {
	src := testutil.Registry(t)
	r := rawRepo{t, src, "app/artifact-twice"}
	amd := r.image("amd64", "", nil)
	asArtifact := amd
	asArtifact.MediaType = bundle.MediaTypeArtifactManifest
	idx := r.index(withPlatform(asArtifact, "linux", "amd64"), withPlatform(amd, "linux", "amd64"))
	opts := createOpts(t, releaseOf(t, src, map[string]digest.Digest{r.name: idx.Digest}), "", filepath.Join(t.TempDir(), "bundle"))
	opts.Version, opts.Platform = "2025.10.0", "linux/amd64"
	if _, err := mirror.Create(context.Background(), opts); err != nil {
		t.Fatalf("create --platform linux/amd64: %v", err)
	}
	if m := readManifest(t, opts.Output); len(m.Images) != 1 || m.Images[0].Digest != amd.Digest || m.Images[0].MediaType != amd.MediaType {
		t.Errorf("create --platform linux/amd64 carried %+v, want the amd64 manifest %s as %s", m.Images, amd.Digest, amd.MediaType)
	}
}
