package mirror_test

import (
	"context"
	"encoding/json"
	"errors"
	"os"
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

// A bundle whose image index lists an OCI artifact manifest (a faulty or
// older producer's: create refuses it, TestCreateRefusesAnIndexListingAnArtifactManifest)
// is refused by every reader, exit 11, in one line naming the index and
// the entry, and nothing is written: sync (registry to registry, with and
// without --images), import and push write no tag at the far side, pull
// no directory, serve serves nothing.
func TestAnIndexListingAnArtifactManifestIsRefusedByEveryReader(t *testing.T) {
	ctx := context.Background()
	src := testutil.Registry(t)
	r := rawRepo{t, src, "app/artifact-entry"}
	amd := withPlatform(r.image("amd64", "", nil), "linux", "amd64")
	dir := filepath.Join(t.TempDir(), "bundle")
	first := r.index(amd)
	opts := createOpts(t, releaseOf(t, src, map[string]digest.Digest{r.name: first.Digest}), "", dir)
	opts.Version = "2025.10.0"
	if _, err := mirror.Create(ctx, opts); err != nil {
		t.Fatal(err)
	}
	// The producer's index lists an artifact manifest beside the image.
	blob := func(data []byte) ocispec.Descriptor {
		d := ocispec.Descriptor{Digest: digest.FromBytes(data), Size: int64(len(data))}
		if err := os.WriteFile(filepath.Join(dir, "blobs", "sha256", d.Digest.Encoded()), data, 0o644); err != nil {
			t.Fatal(err)
		}
		return d
	}
	artData, _ := json.Marshal(map[string]any{"mediaType": bundle.MediaTypeArtifactManifest, "artifactType": "application/x.test"})
	art := blob(artData)
	art.MediaType = bundle.MediaTypeArtifactManifest
	idxData, _ := json.Marshal(ocispec.Index{Versioned: specs.Versioned{SchemaVersion: 2}, MediaType: ocispec.MediaTypeImageIndex, Manifests: []ocispec.Descriptor{amd, art}})
	idx := blob(idxData)
	if err := os.Remove(filepath.Join(dir, "blobs", "sha256", first.Digest.Encoded())); err != nil {
		t.Fatal(err)
	}
	rewriteManifestJSON(t, dir, func(m *bundle.Manifest) { m.Images[0].Digest, m.Images[0].Size = idx.Digest, idx.Size })
	priv, pub := testKeys(t, "producer")
	signAsProducer(t, dir, priv)

	// The bundle in a registry, as another tool copies an OCI layout.
	ref := testutil.Registry(t) + "/" + bundle.DefaultBundleRepository + ":2025.10.0"
	copyLayoutTagged(t, dir, ref)

	want := idx.Digest.String() + ": index lists " + art.Digest.String() + " of media type \"" + bundle.MediaTypeArtifactManifest + "\""
	refused := func(t *testing.T, what string, err error) {
		t.Helper()
		t.Logf("%s: %v", what, err)
		if !errors.Is(err, errdef.ErrMalformed) || !strings.Contains(err.Error(), want) || strings.Contains(err.Error(), "\n") {
			t.Errorf("%s: err = %v, want ErrMalformed saying %q in one line", what, err, want)
		}
	}
	for name, place := range map[string]func(dst string) (*mirror.PlaceResult, error){
		"sync --images": func(dst string) (*mirror.PlaceResult, error) {
			return mirror.Sync(ctx, mirror.SyncOptions{Now: testNow, Source: ref, Destination: dst + "/stellaops/mirror-bundle", Images: true,
				Trust: trustKeys(pub), Client: testutil.Client(t), Transfer: transferOpts()})
		},
		"sync without --key": func(dst string) (*mirror.PlaceResult, error) {
			return mirror.Sync(ctx, mirror.SyncOptions{Now: testNow, Source: ref, Destination: dst + "/stellaops/mirror-bundle",
				Client: testutil.Client(t), Transfer: transferOpts()})
		},
		"import": func(dst string) (*mirror.PlaceResult, error) {
			return mirror.Import(ctx, importOpts(t, dir, dst, pub))
		},
		"import REF": func(dst string) (*mirror.PlaceResult, error) {
			return mirror.Import(ctx, importOpts(t, ref, dst, pub))
		},
		"push": func(dst string) (*mirror.PlaceResult, error) {
			return mirror.Push(ctx, mirror.PushOptions{Now: testNow, Source: dir, Reference: dst + "/stellaops/mirror-bundle",
				Trust: trustKeys(pub), Client: testutil.Client(t), Transfer: transferOpts()})
		},
	} {
		t.Run(name, func(t *testing.T) {
			dst := testutil.Registry(t)
			_, err := place(dst)
			refused(t, name, err)
			if repos := testutil.Tags(t, dst); len(repos) != 0 {
				t.Errorf("%s: the refused bundle left %v in %s", name, repos, dst)
			}
		})
	}
	t.Run("pull", func(t *testing.T) {
		out := filepath.Join(t.TempDir(), "pulled")
		_, err := mirror.Pull(ctx, mirror.PullOptions{Reference: ref, Output: out, Trust: trustKeys(pub), Client: testutil.Client(t), Transfer: transferOpts()})
		refused(t, "pull", err)
		if _, err := os.Stat(out); !os.IsNotExist(err) {
			t.Errorf("pull left %s: %v", out, err)
		}
	})
	t.Run("verify", func(t *testing.T) {
		_, err := mirror.Verify(ctx, mirror.VerifyOptions{Now: testNow, Envelope: filepath.Join(dir, "manifest.dsse"), Trust: trustKeys(pub)})
		refused(t, "verify", err)
	})
	t.Run("inspect", func(t *testing.T) {
		_, err := mirror.Inspect(ctx, dir, testNow)
		refused(t, "inspect", err)
	})
	t.Run("serve", func(t *testing.T) {
		b, err := mirror.OpenServed(ctx, mirror.ServeOptions{Path: dir, Trust: trustKeys(pub), Now: testNow})
		if err == nil {
			b.Close()
		}
		refused(t, "serve", err)
	})
}
