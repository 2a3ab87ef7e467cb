package mirror

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/stellaops/mirror/internal/sample"
	"github.com/stellaops/mirror/internal/testutil"
	"github.com/stellaops/mirror/pkg/bundle"
	"github.com/stellaops/mirror/pkg/layout"
)

// scaleBundle creates, in a directory of its own, an unsigned bundle of the
// scale release (images two-platform images with an SBOM referrer each,
// tiny layers, so that the cost per image shows) from a fresh registry.
// The bundle directory is dir/bundle.
func scaleBundle(t *testing.T, images int) (work, dir string) {
	host := testutil.Registry(t)
	_, releaseFile, _ := testutil.PushSample(t, host, sample.Spec{Images: images, BaseLayerSize: 1 << 10, LayerSize: 256})
	work = t.TempDir()
	dir = filepath.Join(work, "bundle")
	if _, err := Create(context.Background(), CreateOptions{ReleaseFile: releaseFile, Output: dir, Created: time.Date(2025, 12, 1, 0, 0, 0, 0, time.UTC),
		Client: testutil.Client(t), Producer: bundle.Producer{Name: "t", Version: "t"}}); err != nil {
		t.Fatal(err)
	}
	return work, dir
}

// signedScaleBundle is scaleBundle signed with a new key pair; pub is the
// public key's file.
func signedScaleBundle(t *testing.T, images int) (work, dir, pub string) {
	work, dir = scaleBundle(t, images)
	pass := func() ([]byte, error) { return []byte("pw"), nil }
	kg, err := Keygen(context.Background(), KeygenOptions{OutputPrefix: filepath.Join(work, "k"), Password: pass})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Sign(context.Background(), SignOptions{Manifest: filepath.Join(dir, layout.ManifestFile), Output: filepath.Join(dir, layout.EnvelopeFile), Key: kg.PrivateKey, Password: pass}); err != nil {
		t.Fatal(err)
	}
	return work, dir, kg.PublicKey
}

// openScaleBundle opens dir's metadata, closed with the test.
func openScaleBundle(t *testing.T, dir string) *metadata {
	ctx := context.Background()
	src, err := openSource(ctx, dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(src.close)
	md, err := src.metadata(ctx)
	if err != nil {
		t.Fatal(err)
	}
	return md
}
