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

// create walked each image from its own root (depth 0) and allowed
// bundle.MaxDepth levels of indexes below it, but every reader of the
// bundle (sign's and verify's deep walk, import's and pull's placement)
// walks from the bundle root, one level up, with the same bound: an image
// whose manifest sits exactly MaxDepth indexes deep was bundled by create
// and then refused by sign ("refusing to sign a bundle that does not
// verify"), verify and import. create should refuse it, naming it.
func TestCreateRefusesNestingTheBundleRefuses(t *testing.T) {
	host := testutil.Registry(t)
	for _, depth := range []int{bundle.MaxDepth - 1, bundle.MaxDepth} {
		r := rawRepo{t, host, fmt.Sprintf("deep/image%d", depth)}
		d := r.image(fmt.Sprint(depth), "", nil)
		for range depth {
			d = r.index(d)
		}
		releaseFile := releaseOf(t, host, map[string]digest.Digest{r.name: d.Digest})
		out := filepath.Join(t.TempDir(), "bundle")
		opts := createOpts(t, releaseFile, "", out)
		opts.Version = "2025.10.0"
		_, err := mirror.Create(context.Background(), opts)
		if err != nil {
			if depth == bundle.MaxDepth && errors.Is(err, errdef.ErrMalformed) && strings.Contains(err.Error(), d.Digest.String()) {
				continue // create refuses what the bundle's readers refuse, naming the image
			}
			t.Fatalf("%d indexes deep: create: %v", depth, err)
		}
		priv, _ := testKeys(t, "cosign")
		_, err = mirror.Sign(context.Background(), mirror.SignOptions{
			Manifest: filepath.Join(out, "manifest.json"), Output: filepath.Join(out, "manifest.dsse"),
			Key: priv, Password: testPass, Created: fixedTime,
		})
		if err != nil {
			t.Fatalf("create wrote a bundle (image %s, %d indexes deep) that sign refuses: %v", d.Digest, depth, err)
		}
	}
}
