package mirror_test

import (
	"context"
	"path/filepath"
	"strings"
	"testing"

	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/stellaops/mirror/internal/testutil"
	"github.com/stellaops/mirror/pkg/mirror"
)

// An index may hold indexes (OCI allows it; containerd, asked for one
// platform, looks into a child index that names no platform of its own):
// --platform linux/arm64 of an index whose arm64 manifest is in such a
// child index was refused as a platform the image has not.
func TestCreatePlatformInNestedIndex(t *testing.T) {
	src := testutil.Registry(t)
	r := rawRepo{t, src, "app/nested"}
	amd, arm := r.image("amd64", "", nil), r.image("arm64", "", nil)
	inner := r.index(withPlatform(arm, "linux", "arm64"))
	outer := r.index(inner, withPlatform(amd, "linux", "amd64"))
	release := releaseOf(t, src, map[string]digest.Digest{r.name: outer.Digest})
	for _, c := range []struct {
		platform string
		want     digest.Digest
	}{{"linux/arm64", arm.Digest}, {"linux/amd64", amd.Digest}} {
		out := filepath.Join(t.TempDir(), "bundle")
		opts := createOpts(t, release, "", out)
		opts.Version, opts.Platform = "2025.10.0", c.platform
		if _, err := mirror.Create(context.Background(), opts); err != nil {
			t.Fatalf("--platform %s: %v", c.platform, err)
		}
		if imgs := readManifest(t, out).Images; len(imgs) != 1 || imgs[0].Digest != c.want {
			t.Errorf("--platform %s carried %+v, want the manifest %s", c.platform, imgs, c.want)
		}
	}
}

// manifest.json lists the platforms of an image: of an index holding an
// index, it listed those the outer one names alone, not those of the
// manifests in the nested one, which the bundle carries as much.
func TestCreatePlatformsOfNestedIndex(t *testing.T) {
	src := testutil.Registry(t)
	r := rawRepo{t, src, "app/nested"}
	amd, arm := r.image("amd64", "", nil), r.image("arm64", "", nil)
	inner := r.index(withPlatform(arm, "linux", "arm64"))
	outer := r.index(inner, withPlatform(amd, "linux", "amd64"))
	out := filepath.Join(t.TempDir(), "bundle")
	opts := createOpts(t, releaseOf(t, src, map[string]digest.Digest{r.name: outer.Digest}), "", out)
	opts.Version = "2025.10.0"
	if _, err := mirror.Create(context.Background(), opts); err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(readManifest(t, out).Images[0].Platforms, " "); got != "linux/arm64 linux/amd64" {
		t.Errorf("platforms %q, want %q", got, "linux/arm64 linux/amd64")
	}
}

// An index need not name its manifests' platforms (OCI makes the field
// optional; some tools leave it out): containerd then reads the platform
// from each manifest's config. --platform linux/arm64 of such an index was
// refused as a platform the image has not, and manifest.json listed no
// platform of it.
func TestCreatePlatformOfUnnamedManifests(t *testing.T) {
	src := testutil.Registry(t)
	r := rawRepo{t, src, "app/unnamed"}
	amd := r.image("amd64", "", nil)
	cfg := r.push(ocispec.MediaTypeImageConfig, []byte(`{"architecture":"arm64","os":"linux","rootfs":{"type":"layers","diff_ids":[]}}`))
	arm := r.pushJSON(ocispec.MediaTypeImageManifest, map[string]any{"schemaVersion": 2, "mediaType": ocispec.MediaTypeImageManifest,
		"config": cfg, "layers": []ocispec.Descriptor{r.push(ocispec.MediaTypeImageLayer, []byte("arm64 layer"))}})
	idx := r.index(amd, arm)
	release := releaseOf(t, src, map[string]digest.Digest{r.name: idx.Digest})
	for _, c := range []struct {
		platform, want string
		digest         digest.Digest
	}{{"", "linux/amd64 linux/arm64", idx.Digest}, {"linux/arm64", "linux/arm64", arm.Digest}} {
		out := filepath.Join(t.TempDir(), "bundle")
		opts := createOpts(t, release, "", out)
		opts.Version, opts.Platform = "2025.10.0", c.platform
		if _, err := mirror.Create(context.Background(), opts); err != nil {
			t.Fatalf("--platform %q: %v", c.platform, err)
		}
		imgs := readManifest(t, out).Images
		if got := strings.Join(imgs[0].Platforms, " "); imgs[0].Digest != c.digest || got != c.want {
			t.Errorf("--platform %q: carried %s of platforms %q, want %s of %q", c.platform, imgs[0].Digest, got, c.digest, c.want)
		}
	}
}
