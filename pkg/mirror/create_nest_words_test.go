package mirror_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stellaops/mirror/internal/testutil"
	"github.com/stellaops/mirror/pkg/bundle"
	"github.com/stellaops/mirror/pkg/errdef"
	"github.com/stellaops/mirror/pkg/mirror"
)

// An image pinned as the outermost of bundle.MaxDepth+1 nested indexes is
// refused by create in one wording with --platform (the search for the
// platform's manifest) and without (the walk of the image), naming the
// index too deep and how far below the pinned one it is, and each digest
// once: the pinned index, which the image's reference names by digest, is
// "the pinned index", and named by its digest where the reference is a
// tag. The walk said "sha256:X: indexes nest deeper than 8", the search
// "sha256:X: indexes nest more than 8 deep", neither that X was an index
// below the pinned one; then both named the pinned digest twice, in the
// reference and as the top of the walk
// (TestCreateNamesTheIndexNestedTooDeep).
func TestCreateNamesTheIndexNestedTooDeep(t *testing.T) {
	host := testutil.Registry(t)
	r := rawRepo{t, host, "deep/chain"}
	inner := r.index(withPlatform(r.image("amd64", "", nil), "linux", "amd64"))
	top := inner
	for range bundle.MaxDepth {
		top = r.index(top)
	}
	r.tag(top, "deep")
	for _, c := range []struct{ ref, below string }{
		{host + "/" + r.name + "@" + top.Digest.String(), "the pinned index"},
		{host + "/" + r.name + ":deep", top.Digest.String()},
	} {
		release := filepath.Join(t.TempDir(), "release.txt")
		if err := os.WriteFile(release, []byte(c.ref+"\n"), 0o644); err != nil {
			t.Fatal(err)
		}
		want := fmt.Sprintf("image %s (%s:1): index %s, %d levels below %s (%d below the bundle's root index): indexes nest deeper than %d",
			c.ref, release, inner.Digest, bundle.MaxDepth, c.below, bundle.MaxDepth+1, bundle.MaxDepth)
		for _, platform := range []string{"", "linux/amd64"} {
			opts := createOpts(t, release, "", filepath.Join(t.TempDir(), "bundle"))
			opts.Version, opts.Platform, opts.AllowTags = "2025.10.0", platform, true
			_, err := mirror.Create(context.Background(), opts)
			if !errors.Is(err, errdef.ErrMalformed) || !strings.Contains(err.Error(), want) || strings.Count(err.Error(), top.Digest.String()) != 1 {
				t.Errorf("create %s --platform %q of %d nested indexes: %v, want errdef.ErrMalformed saying %q, naming %s once",
					c.ref, platform, bundle.MaxDepth+1, err, want, top.Digest)
			}
		}
	}
}
