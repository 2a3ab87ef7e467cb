package mirror_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stellaops/mirror/internal/testutil"
	"github.com/stellaops/mirror/pkg/errdef"
	"github.com/stellaops/mirror/pkg/mirror"
)

// TestInventoryBundleRepoIsRepository: inventory --bundle-repo took a
// reference with a tag or digest (stellaops/mirror-bundle:2025.10.0, as
// import prints the bundle's place) as the repository, where import and
// serve refuse it: it listed that tag's bundle alone and wrote an
// inventory whose bundleRepository and repositories read
// "stellaops/mirror-bundle:2025.10.0", exit 0. It is refused, naming
// --bundle-repo and the value, before any request; nothing is written.
func TestInventoryBundleRepoIsRepository(t *testing.T) {
	host := testutil.Registry(t)
	for _, repo := range []string{"stellaops/mirror-bundle:2025.10.0", "stellaops/mirror-bundle@sha256:0995023f729ebd959881551780c86f3407e3be1b8d59f460619088f4f48ee33a", "Stellaops/Mirror"} {
		out := filepath.Join(t.TempDir(), "inventory.json")
		_, err := mirror.Inventory(context.Background(), mirror.InventoryOptions{Registry: host, BundleRepo: repo, Output: out, Client: testutil.Client(t)})
		want := `--bundle-repo "` + repo + `" is not a valid repository name`
		if !errors.Is(err, errdef.ErrUsage) || !strings.Contains(err.Error(), want) {
			t.Errorf("--bundle-repo %s: err = %v, want ErrUsage and %q", repo, err, want)
		}
		if _, err := os.Lstat(out); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("--bundle-repo %s: %s written", repo, out)
		}
	}
}
