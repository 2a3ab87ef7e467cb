package mirror_test

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"oras.land/oras-go/v2"
	"oras.land/oras-go/v2/content/oci"

	"github.com/stellaops/mirror/internal/testutil"
	"github.com/stellaops/mirror/pkg/bundle"
	"github.com/stellaops/mirror/pkg/layout"
	"github.com/stellaops/mirror/pkg/mirror"
)

// TestCosignTagOfAManifestNotCarriedIsRefusedByEveryReader: the cosign tag
// check (a tag in manifest.json whose subject the bundle does not carry for
// the image) is made by every reader that would write or serve that tag,
// not by import of a directory alone: import of a packed tar, push, sync
// and pull of the bundle from a registry, and serve, of a directory or a
// tar. Each refuses it as malformed (exit 11), naming the tag and the
// image, and writes nothing: no repository, tag or manifest in the target
// registry, no output directory.
func TestCosignTagOfAManifestNotCarriedIsRefusedByEveryReader(t *testing.T) {
	ctx := context.Background()
	sb := strayTagBundle(t)
	archive := filepath.Join(t.TempDir(), "bundle.tar")
	packAsProducer(t, sb.dir, archive)

	// The bundle in a registry, as another tool copies an OCI layout
	// (push refuses it): the root tagged, its signature referrer with it.
	src := testutil.Registry(t)
	ref := src + "/" + bundle.DefaultBundleRepository + ":2025.10.0"
	copyLayoutTagged(t, sb.dir, ref)

	nothingIn := func(t *testing.T, host string) {
		t.Helper()
		if repos := testutil.Tags(t, host); len(repos) != 0 {
			t.Errorf("the refused bundle left %v in %s", repos, host)
		}
	}
	for name, place := range map[string]func(dst string) (*mirror.PlaceResult, error){
		"import of a packed tar": func(dst string) (*mirror.PlaceResult, error) {
			return mirror.Import(ctx, importOpts(t, archive, dst, sb.pub))
		},
		"import REF": func(dst string) (*mirror.PlaceResult, error) {
			return mirror.Import(ctx, importOpts(t, ref, dst, sb.pub))
		},
		"push": func(dst string) (*mirror.PlaceResult, error) {
			return mirror.Push(ctx, mirror.PushOptions{Now: testNow, Source: sb.dir, Reference: dst + "/stellaops/mirror-bundle",
				Trust: trustKeys(sb.pub), Client: testutil.Client(t), Transfer: transferOpts()})
		},
		"push of a packed tar": func(dst string) (*mirror.PlaceResult, error) {
			return mirror.Push(ctx, mirror.PushOptions{Now: testNow, Source: archive, Reference: dst + "/stellaops/mirror-bundle",
				Trust: trustKeys(sb.pub), Client: testutil.Client(t), Transfer: transferOpts()})
		},
		"sync": func(dst string) (*mirror.PlaceResult, error) {
			return mirror.Sync(ctx, mirror.SyncOptions{Now: testNow, Source: ref, Destination: dst + "/stellaops/mirror-bundle", Images: true,
				Trust: trustKeys(sb.pub), Client: testutil.Client(t), Transfer: transferOpts()})
		},
		"sync without --key": func(dst string) (*mirror.PlaceResult, error) {
			return mirror.Sync(ctx, mirror.SyncOptions{Now: testNow, Source: ref, Destination: dst + "/stellaops/mirror-bundle",
				Client: testutil.Client(t), Transfer: transferOpts()})
		},
	} {
		t.Run(name, func(t *testing.T) {
			dst := testutil.Registry(t)
			_, err := place(dst)
			sb.refused(t, name, err)
			nothingIn(t, dst)
		})
	}

	for name, trust := range map[string]mirror.TrustOptions{"pull": trustKeys(sb.pub), "pull without --key": {}} {
		t.Run(name, func(t *testing.T) {
			out := filepath.Join(t.TempDir(), "pulled")
			_, err := mirror.Pull(ctx, mirror.PullOptions{Reference: ref, Output: out, Trust: trust, Client: testutil.Client(t), Transfer: transferOpts()})
			sb.refused(t, name, err)
			if _, err := os.Stat(out); !os.IsNotExist(err) {
				t.Errorf("pull left %s: %v", out, err)
			}
		})
	}

	for name, path := range map[string]string{"serve": sb.dir, "serve of a packed tar": archive} {
		t.Run(name, func(t *testing.T) {
			b, err := mirror.OpenServed(ctx, mirror.ServeOptions{Path: path, Trust: trustKeys(sb.pub), Now: testNow})
			if err == nil {
				b.Close()
			}
			sb.refused(t, name, err)
		})
	}
}

// packAsProducer writes dir as the pack-order tar archive, as the
// producer's own tool would, with no check of what it packs (pack refuses
// a directory whose sign did not finish), from a copy of dir with the
// SHA256SUMS signAsProducer dropped written again.
func packAsProducer(t *testing.T, dir, archive string) {
	t.Helper()
	d, err := layout.Open(copyBundle(t, dir))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := d.WriteChecksums(true); err != nil {
		t.Fatal(err)
	}
	codec, err := layout.CompressionFor(archive)
	if err != nil {
		t.Fatal(err)
	}
	f, err := os.Create(archive)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := d.Pack(context.Background(), f, codec); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
}

// copyLayoutTagged copies the bundle directory dir, tagged 2025.10.0, with
// its referrers into the registry at ref, as another tool copies an OCI
// layout.
func copyLayoutTagged(t *testing.T, dir, ref string) {
	t.Helper()
	layout, err := oci.New(dir)
	if err != nil {
		t.Fatal(err)
	}
	to, err := testutil.Client(t).Repository(ref)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := oras.ExtendedCopy(context.Background(), layout, "2025.10.0", to, "2025.10.0", oras.DefaultExtendedCopyOptions); err != nil {
		t.Fatal(err)
	}
}
