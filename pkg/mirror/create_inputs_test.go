package mirror_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"oras.land/oras-go/v2"

	"github.com/stellaops/mirror/internal/sample"
	"github.com/stellaops/mirror/internal/testutil"
	"github.com/stellaops/mirror/pkg/bundle"
	"github.com/stellaops/mirror/pkg/errdef"
	"github.com/stellaops/mirror/pkg/mirror"
)

// What create would find wrong only once every blob was on disk, or took
// without a word, is refused as usage (exit 1) before any request (found
// by review):
//   - a version or channel the bundle id cannot hold, and a creation time
//     before 1970 (generation 0) or past the year 9999: refused as a
//     malformed manifest.json (exit 11) or a JSON error, after the fetch;
//   - a version in the form of a digest's referrers tag;
//   - --certificate without --key: an unsigned bundle, the certificate
//     never read;
//   - --output bundle.tar.xz, .tar.bz2 or .TAR: a directory of that name.
func TestCreateRefusesItsInputsBeforeAnyRequest(t *testing.T) {
	t.Parallel()
	counted := newCountedRegistry(t)
	host := counted.host
	_, releaseFile, advisories := testutil.PushSample(t, host, sample.Spec{})
	for _, tt := range []struct {
		name   string
		change func(o *mirror.CreateOptions)
		want   string
	}{
		{"channel with a slash", func(o *mirror.CreateOptions) { o.Channel = "beta/1" }, `make no valid bundle id`},
		{"version starting with _", func(o *mirror.CreateOptions) { o.Version = "_2025.10.0" }, `make no valid bundle id`},
		{"version of 120 characters", func(o *mirror.CreateOptions) { o.Version = strings.Repeat("1", 120) }, `make no valid bundle id`},
		{"version like a referrers tag", func(o *mirror.CreateOptions) { o.Version = "sha256-" + strings.Repeat("a", 64) }, `a digest's referrers and signatures`},
		{"created at 1970", func(o *mirror.CreateOptions) { o.Created = time.Unix(0, 0) }, `must be after 1970-01-01`},
		{"created in the year 10000", func(o *mirror.CreateOptions) { o.Created = time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC) }, `before the year 10000`},
		{"certificate without key", func(o *mirror.CreateOptions) { o.Certificate = "leaf.pem" }, `give --key`},
		{"certificate chain without key", func(o *mirror.CreateOptions) { o.CertificateChain = "chain.pem" }, `give --key`},
		{".tar.xz", func(o *mirror.CreateOptions) { o.Output += ".tar.xz" }, `create writes a directory or a .tar`},
		{".tar.bz2", func(o *mirror.CreateOptions) { o.Output += ".tar.bz2" }, `create writes a directory or a .tar`},
		{".TAR", func(o *mirror.CreateOptions) { o.Output += ".TAR" }, `create writes a directory or a .tar`},
	} {
		t.Run(tt.name, func(t *testing.T) {
			parent := t.TempDir()
			opts := createOpts(t, releaseFile, advisories, filepath.Join(parent, "bundle"))
			tt.change(&opts)
			before := counted.total()
			_, err := mirror.Create(context.Background(), opts)
			if !errors.Is(err, errdef.ErrUsage) || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("create: %v, want usage saying %q", err, tt.want)
			}
			if n := counted.total() - before; n != 0 {
				t.Errorf("create refused after %d requests, want none", n)
			}
			if entries, _ := os.ReadDir(parent); len(entries) != 0 {
				t.Errorf("refused create left %v", entries)
			}
		})
	}
}

// An image in stellaops/mirror-bundle, where import and serve place the
// bundle itself by default, made a bundle they refuse (its tag would be the
// image's), with no word from create (found by review). create still makes
// it, for an import with another --bundle-repo, and warns, naming the
// file's line and the flag.
func TestCreateWarnsOfAnImageInTheBundleRepository(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	host := testutil.Registry(t)
	rel, _, _ := testutil.PushSample(t, host, sample.Spec{})
	img := rel.Images[0]
	client := testutil.Client(t)
	src, _ := client.Repository(host + "/" + img.Repository)
	dst, _ := client.Repository(host + "/" + bundle.DefaultBundleRepository)
	if _, err := oras.Copy(ctx, src, img.Descriptor.Digest.String(), dst, "x", oras.DefaultCopyOptions); err != nil {
		t.Fatal(err)
	}
	list := filepath.Join(t.TempDir(), "images.txt")
	if err := os.WriteFile(list, []byte("# one image\n"+host+"/"+bundle.DefaultBundleRepository+"@"+img.Descriptor.Digest.String()+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	opts := createOpts(t, list, "", filepath.Join(t.TempDir(), "bundle"))
	opts.Version = "2025.12.0"
	log, stderr := logBuffer()
	opts.Logger = log
	if _, err := mirror.Create(ctx, opts); err != nil {
		t.Fatal(err)
	}
	if want := list + ":2: image " + host + "/" + bundle.DefaultBundleRepository; !strings.Contains(stderr.String(), want) || !strings.Contains(stderr.String(), "--bundle-repo") {
		t.Errorf("create of an image in %s did not warn %q:\n%s", bundle.DefaultBundleRepository, want, stderr)
	}
}
