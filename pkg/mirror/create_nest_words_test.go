package mirror_test

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"testing"

	"github.com/opencontainers/go-digest"

	"github.com/stellaops/mirror/internal/testutil"
	"github.com/stellaops/mirror/pkg/bundle"
	"github.com/stellaops/mirror/pkg/errdef"
	"github.com/stellaops/mirror/pkg/mirror"
)

// An image pinned as the outermost of bundle.MaxDepth+1 nested indexes is
// refused by create in one wording with --platform (the search for the
// platform's manifest) and without (the walk of the image), naming the
// index too deep and how far below the pinned one it is. The walk said
// "sha256:X: indexes nest deeper than 8", the search "sha256:X: indexes
// nest more than 8 deep", neither that X was an index below the pinned one.
func TestCreateNamesTheIndexNestedTooDeep(t *testing.T) {
	host := testutil.Registry(t)
	r := rawRepo{t, host, "deep/chain"}
	inner := r.index(withPlatform(r.image("amd64", "", nil), "linux", "amd64"))
	top := inner
	for range bundle.MaxDepth {
		top = r.index(top)
	}
	release := releaseOf(t, host, map[string]digest.Digest{r.name: top.Digest})
	want := fmt.Sprintf("index %s, %d levels below %s (%d below the bundle's root index): indexes nest deeper than %d",
		inner.Digest, bundle.MaxDepth, top.Digest, bundle.MaxDepth+1, bundle.MaxDepth)
	for _, platform := range []string{"", "linux/amd64"} {
		opts := createOpts(t, release, "", filepath.Join(t.TempDir(), "bundle"))
		opts.Version, opts.Platform = "2025.10.0", platform
		_, err := mirror.Create(context.Background(), opts)
		if !errors.Is(err, errdef.ErrMalformed) || !strings.Contains(err.Error(), want) {
			t.Errorf("create --platform %q of %d nested indexes: %v, want errdef.ErrMalformed saying %q", platform, bundle.MaxDepth+1, err, want)
		}
	}
}
