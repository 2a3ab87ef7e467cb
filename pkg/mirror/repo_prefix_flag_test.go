package mirror_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/stellaops/mirror/internal/sample"
	"github.com/stellaops/mirror/internal/testutil"
	"github.com/stellaops/mirror/pkg/errdef"
	"github.com/stellaops/mirror/pkg/mirror"
)

// TestRepoPrefixIsRepositoryPath: --repo-prefix is joined to every image's
// repository as a path, which cleaned "x/.." away: import --repo-prefix
// x/.. placed every image under its own name, as with no prefix, and
// mirror/../prod under prod/, with exit 0. A prefix that is not a
// repository path (uppercase, an empty part, a flag) failed only later as
// an image's repository, naming neither the flag nor its value. Each is
// refused, naming --repo-prefix and the value, before anything is read or
// sent; the registry is untouched. A leading or trailing / is still
// taken off, as it always was.
func TestRepoPrefixIsRepositoryPath(t *testing.T) {
	ctx := context.Background()
	s := newSignedSample(t, sample.Spec{}, 0)
	host := testutil.Registry(t)
	for _, prefix := range []string{"x/..", "mirror/../prod", "..", "./mirror", "Mirror", "a//b", "--plain-http"} {
		t.Run(prefix, func(t *testing.T) {
			want := `--repo-prefix "` + prefix + `"`
			check := func(what string, err error) {
				t.Helper()
				if !errors.Is(err, errdef.ErrUsage) || !strings.Contains(err.Error(), want) {
					t.Errorf("%s: err = %v, want ErrUsage and %q", what, err, want)
				}
			}
			opts := importOpts(t, s.dir, host, s.pub)
			opts.RepoPrefix = prefix
			_, err := mirror.Import(ctx, opts)
			check("import", err)
			_, err = mirror.OpenServed(ctx, mirror.ServeOptions{Path: s.dir, Trust: trustKeys(s.pub), Now: testNow, RepoPrefix: prefix})
			check("serve", err)
			_, err = mirror.Sync(ctx, mirror.SyncOptions{Source: host + "/stellaops/mirror-bundle:1", Destination: host + "/site/mirror-bundle", Images: true, RepoPrefix: prefix, Trust: trustKeys(s.pub), Now: testNow, Client: testutil.Client(t), Transfer: transferOpts()})
			check("sync", err)
			if tags := testutil.Tags(t, host); len(tags) != 0 {
				t.Errorf("the registry holds %v", tags)
			}
		})
	}
	opts := importOpts(t, s.dir, host, s.pub)
	opts.RepoPrefix = "/site/mirror/"
	res, err := mirror.Import(ctx, opts)
	if err != nil {
		t.Fatal(err)
	}
	for _, img := range res.Images {
		if !strings.HasPrefix(img.Reference, host+"/site/mirror/") {
			t.Errorf("image placed at %s, want under %s/site/mirror/", img.Reference, host)
		}
	}
}

// TestSyncRepoPrefixNeedsImages: sync --repo-prefix without --images was
// dropped without a word: the bundle alone went to the destination, no
// image under the prefix, exit 0. It is refused, naming both flags, before
// anything is sent.
func TestSyncRepoPrefixNeedsImages(t *testing.T) {
	ctx := context.Background()
	s := newSignedSample(t, sample.Spec{}, 0)
	host := testutil.Registry(t)
	client := testutil.Client(t)
	if _, err := mirror.Push(ctx, mirror.PushOptions{Now: testNow, Source: s.dir, Reference: host + "/stellaops/mirror-bundle", Client: client, Transfer: transferOpts()}); err != nil {
		t.Fatal(err)
	}
	before := testutil.Tags(t, host)
	_, err := mirror.Sync(ctx, mirror.SyncOptions{Source: host + "/stellaops/mirror-bundle:" + s.rel.Spec.Version, Destination: host + "/site/mirror-bundle", RepoPrefix: "site", Trust: trustKeys(s.pub), Now: testNow, Client: client, Transfer: transferOpts()})
	want := `--repo-prefix "site" places the images, which sync places only with --images`
	if !errors.Is(err, errdef.ErrUsage) || !strings.Contains(err.Error(), want) {
		t.Errorf("err = %v, want ErrUsage and %q", err, want)
	}
	if after := testutil.Tags(t, host); len(after) != len(before) {
		t.Errorf("the registry holds %v, held %v", after, before)
	}
}
