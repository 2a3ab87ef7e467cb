package mirror_test

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/stellaops/mirror/internal/testutil"
	"github.com/stellaops/mirror/pkg/errdef"
	"github.com/stellaops/mirror/pkg/mirror"
)

// foreignImage pushes a Docker image whose one layer is a foreign layer
// (as Windows base images had), the layer's blob only if withBlob.
func foreignImage(t *testing.T, host string, withBlob bool) (rawRepo, ocispec.Descriptor, ocispec.Descriptor, []byte) {
	t.Helper()
	r := rawRepo{t, host, "app/windows"}
	cfg := r.push("application/vnd.docker.container.image.v1+json", []byte(`{"architecture":"amd64","os":"windows","rootfs":{"type":"layers","diff_ids":[]}}`))
	data := []byte("foreign layer bytes")
	layer := ocispec.Descriptor{MediaType: "application/vnd.docker.image.rootfs.foreign.diff.tar.gzip", Digest: digest.FromBytes(data), Size: int64(len(data)),
		URLs: []string{"https://mcr.example/v2/windows/blobs/" + digest.FromBytes(data).String()}}
	if withBlob {
		r.push(layer.MediaType, data)
	}
	img := r.pushJSON("application/vnd.docker.distribution.manifest.v2+json", map[string]any{
		"schemaVersion": 2, "mediaType": "application/vnd.docker.distribution.manifest.v2+json",
		"config": cfg, "layers": []ocispec.Descriptor{layer},
	})
	return r, img, layer, data
}

// An image with a foreign layer its source does not serve: create failed
// at the blob fetch with "blob sha256:…: not found", naming neither the
// image nor why. It must refuse before writing, naming the image and the
// layer as non-distributable (exit 1).
func TestCreateForeignLayerNotServed(t *testing.T) {
	src := testutil.Registry(t)
	r, img, layer, _ := foreignImage(t, src, false)
	out := filepath.Join(t.TempDir(), "bundle")
	opts := createOpts(t, releaseOf(t, src, map[string]digest.Digest{r.name: img.Digest}), "", out)
	opts.Version = "2025.10.0"
	_, err := mirror.Create(context.Background(), opts)
	if !errors.Is(err, errdef.ErrNotFound) || !strings.Contains(err.Error(), "image "+src+"/"+r.name+"@"+img.Digest.String()) ||
		!strings.Contains(err.Error(), "layer "+layer.Digest.String()) || !strings.Contains(err.Error(), "non-distributable") {
		t.Fatalf("create: err = %v, want ErrNotFound naming the image and its non-distributable layer %s", err, layer.Digest)
	}
	if _, err := os.Stat(out); !os.IsNotExist(err) {
		t.Errorf("create left %s behind (%v)", out, err)
	}
}

// An image with a foreign layer its source serves is carried byte for
// byte; a registry that refuses the layer's urls (CNCF distribution by
// default) fails the import with the layer named and what to configure,
// and no tag written.
func TestImportForeignLayer(t *testing.T) {
	ctx := context.Background()
	src := testutil.Registry(t)
	r, img, layer, data := foreignImage(t, src, true)
	out := filepath.Join(t.TempDir(), "bundle")
	opts := createOpts(t, releaseOf(t, src, map[string]digest.Digest{r.name: img.Digest}), "", out)
	opts.Version = "2025.10.0"
	if _, err := mirror.Create(ctx, opts); err != nil {
		t.Fatal(err)
	}
	priv, pub := testKeys(t, "signer")
	sign(t, out, priv)

	dst := testutil.Registry(t)
	if _, err := mirror.Import(ctx, importOpts(t, out, dst, pub)); err != nil {
		t.Fatal(err)
	}
	repo, _ := testutil.Client(t).Repository(dst + "/" + r.name)
	if got, err := readContent(ctx, repo, layer.Digest, layer.Size); err != nil || !bytes.Equal(got, data) {
		t.Errorf("foreign layer %s at %s: %v", layer.Digest, dst, err)
	}
	if d, err := repo.Resolve(ctx, "2025.10.0"); err != nil || d.Digest != img.Digest {
		t.Errorf("%s:2025.10.0 resolves to %s (%v), want %s", r.name, d.Digest, err, img.Digest)
	}

	dist := testutil.Distribution(t)
	_, err := mirror.Import(ctx, importOpts(t, out, dist, pub))
	if !errors.Is(err, errdef.ErrUnavailable) || !strings.Contains(err.Error(), "layer "+layer.Digest.String()+" is non-distributable") || !strings.Contains(err.Error(), "validation.manifests.urls.allow") {
		t.Fatalf("import into distribution: err = %v, want the refusal explained, naming layer %s (exit 1)", err, layer.Digest)
	}
	if tags := testutil.Tags(t, dist); len(tags) != 0 {
		t.Errorf("a refused import left tags: %v", tags)
	}
}

// A delta whose base holds the foreign layer does not need the source to
// serve it: the layer is omitted, like any blob the base holds.
func TestCreateDeltaForeignLayerInBase(t *testing.T) {
	ctx := context.Background()
	src := testutil.Registry(t)
	r, img, layer, _ := foreignImage(t, src, true)
	release := releaseOf(t, src, map[string]digest.Digest{r.name: img.Digest})
	base := filepath.Join(t.TempDir(), "base")
	opts := createOpts(t, release, "", base)
	opts.Version = "2025.10.0"
	if _, err := mirror.Create(ctx, opts); err != nil {
		t.Fatal(err)
	}
	basePriv, basePub := testKeys(t, "signer")
	sign(t, base, basePriv)
	testutil.Delete(t, src, r.name, "blobs", layer.Digest.String())

	delta := filepath.Join(t.TempDir(), "delta")
	opts = createOpts(t, release, "", delta)
	opts.Version, opts.Base, opts.BaseTrust = "2025.11.0", base, trustKeys(basePub)
	res, err := mirror.Create(ctx, opts)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Contains(res.Manifest.Base.Omitted, layer.Digest) {
		t.Errorf("the delta omits %v, want the foreign layer %s among them", res.Manifest.Base.Omitted, layer.Digest)
	}
}

// A layer the source registry no longer serves (garbage-collected, or
// lost) failed create with "blob sha256:…: sha256:…: not found": in a
// release of many images, the operator had to search which image it
// belongs to. The error must name the image and its release file line,
// then the layer, once, for a directory and for an archive output, and
// leave nothing behind. It then said "blob sha256:X: image REF (FILE:1):
// sha256:X: not found", the layer named twice.
func TestCreateMissingLayerNamesTheImage(t *testing.T) {
	src := testutil.Registry(t)
	r := rawRepo{t, src, "app/image"}
	img := r.image("app", "", nil)
	layer := fetchManifest(t, src, r.name, img).Layers[0]
	testutil.Delete(t, src, r.name, "blobs", layer.Digest.String())
	release := releaseOf(t, src, map[string]digest.Digest{r.name: img.Digest})
	for _, out := range []string{filepath.Join(t.TempDir(), "bundle"), filepath.Join(t.TempDir(), "bundle.tar")} {
		opts := createOpts(t, release, "", out)
		opts.Version = "2025.10.0"
		_, err := mirror.Create(context.Background(), opts)
		want := "image " + src + "/" + r.name + "@" + img.Digest.String() + " (" + release + ":1): blob " + layer.Digest.String() + ": not found"
		if !errors.Is(err, errdef.ErrNotFound) || !strings.Contains(err.Error(), want) || strings.Count(err.Error(), layer.Digest.String()) != 1 {
			t.Errorf("create %s: err = %v, want ErrNotFound saying %q, naming the layer once", filepath.Base(out), err, want)
		}
		if _, err := os.Stat(out); !os.IsNotExist(err) {
			t.Errorf("create left %s behind (%v)", out, err)
		}
	}
}
