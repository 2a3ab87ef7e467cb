package mirror_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"oras.land/oras-go/v2"
	"oras.land/oras-go/v2/content/oci"

	"github.com/stellaops/mirror/internal/sample"
	"github.com/stellaops/mirror/internal/testutil"
	"github.com/stellaops/mirror/pkg/bundle"
	"github.com/stellaops/mirror/pkg/errdef"
	"github.com/stellaops/mirror/pkg/mirror"
)

// TestSourceBundleWithReservedTagsIsRefused: a bundle in a source
// registry whose manifest.json gives the release, or an image, a tag of
// the form a registry and cosign keep for a digest's artifacts
// (sha256-<hex>, sha256-<hex>.sig), which create never writes, is refused
// by sync and pull as malformed (exit 11), and sync tags nothing at the
// destination. Sync, without --key, wrote that tag at the destination,
// replacing the referrers index of that digest there (its signatures and
// SBOMs gone from every reader), or posing as its cosign signature.
func TestSourceBundleWithReservedTagsIsRefused(t *testing.T) {
	hexOf := strings.Repeat("ab", 32)
	for name, c := range map[string]struct {
		version string // the root's tag in the layout
		edit    func(*bundle.Manifest)
	}{
		"release version": {"sha256-" + hexOf, func(m *bundle.Manifest) { m.Release.Version = "sha256-" + hexOf }},
		"image tag":       {"2025.10.0", func(m *bundle.Manifest) { m.Images[0].Tags = append(m.Images[0].Tags, "sha256-"+hexOf+".sig") }},
	} {
		t.Run(name, func(t *testing.T) {
			ctx := context.Background()
			s := newSignedSample(t, sample.Spec{}, 0)
			dir := filepath.Join(t.TempDir(), "hostile")
			if err := os.CopyFS(dir, os.DirFS(s.dir)); err != nil {
				t.Fatal(err)
			}
			rewriteManifestJSON(t, dir, c.edit)
			store, err := oci.New(dir)
			if err != nil {
				t.Fatal(err)
			}
			source := testutil.Registry(t) + "/stellaops/mirror-bundle"
			client := testutil.Client(t)
			to, err := client.Repository(source)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := oras.Copy(ctx, store, c.version, to, "hostile", oras.DefaultCopyOptions); err != nil {
				t.Fatal(err)
			}
			dst := testutil.Registry(t)
			_, err = mirror.Sync(ctx, mirror.SyncOptions{Now: testNow, Source: source + ":hostile", Destination: dst + "/stellaops/mirror-bundle",
				Images: true, Client: client, Transfer: transferOpts()})
			if !errors.Is(err, errdef.ErrMalformed) || !strings.Contains(err.Error(), "sha256-"+hexOf) {
				t.Errorf("sync: err = %v, want malformed naming the tag", err)
			}
			if tags := testutil.Tags(t, dst); len(tags) != 0 {
				t.Errorf("sync tagged %v at the destination", tags)
			}
			_, err = mirror.Pull(ctx, mirror.PullOptions{Reference: source + ":hostile", Output: filepath.Join(t.TempDir(), "pulled"), Client: client, Transfer: transferOpts()})
			if !errors.Is(err, errdef.ErrMalformed) {
				t.Errorf("pull: err = %v, want malformed", err)
			}
		})
	}
}
