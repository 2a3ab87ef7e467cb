package mirror_test

import (
	"context"
	"errors"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stellaops/mirror/internal/testutil"
	"github.com/stellaops/mirror/pkg/errdef"
	"github.com/stellaops/mirror/pkg/mirror"
)

// TestBundleFileGivenForBundle: a file of a bundle directory given where
// the bundle goes (import DIR/manifest.dsse, as verify takes it; push,
// serve and inspect alike) was read as an archive and refused as
// "archive/tar: invalid tar header", exit 11, as if the media were
// damaged. It is refused as usage, naming the directory to give (found by
// review).
func TestBundleFileGivenForBundle(t *testing.T) {
	dir := newBundle(t)
	priv, pub := testKeys(t, "cosign")
	sign(t, dir, priv)
	for _, name := range []string{"manifest.dsse", "manifest.json", "index.json"} {
		file := filepath.Join(dir, name)
		_, err := mirror.Import(context.Background(), importOpts(t, file, testutil.Registry(t), pub))
		if !errors.Is(err, errdef.ErrUsage) || !strings.Contains(err.Error(), "give "+dir) {
			t.Errorf("import %s: %v; want a usage error naming the bundle directory", name, err)
		}
	}
}
