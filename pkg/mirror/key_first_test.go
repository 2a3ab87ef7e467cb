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

// TestCatalogAndInventoryOpenTheKeyFirst: catalog and inventory --key open
// the signing key before they read the registry, as create --key does: a
// key that does not open fails at once, with no request, and its KDF's
// working memory (64 MiB for cosign's scrypt) is spent before the bundles
// are read, not on top of them (catalog of a 1600-image bundle peaked at
// 106 MiB). On the old code both asked the registry first.
func TestCatalogAndInventoryOpenTheKeyFirst(t *testing.T) {
	counted := newCountedRegistry(t)
	host := counted.host
	priv, pub := testKeys(t, "key-first")
	wrong := func() ([]byte, error) { return []byte("not the password"), nil }
	ctx := context.Background()
	for name, run := range map[string]func() error{
		"catalog": func() error {
			_, err := mirror.Catalog(ctx, mirror.CatalogOptions{Repository: host + "/stellaops/mirror-bundle", Key: priv, Password: wrong, Client: testutil.Client(t)})
			return err
		},
		"inventory": func() error {
			_, err := mirror.Inventory(ctx, mirror.InventoryOptions{Registry: host, Output: filepath.Join(t.TempDir(), "inventory.json"), Key: priv, Password: wrong, Trust: trustKeys(pub), Client: testutil.Client(t)})
			return err
		},
	} {
		t.Run(name, func(t *testing.T) {
			before := counted.total()
			err := run()
			if !errors.Is(err, errdef.ErrUsage) || !strings.Contains(err.Error(), priv) {
				t.Fatalf("wrong password: %v", err)
			}
			if n := counted.total() - before; n != 0 {
				t.Errorf("%d requests to the registry before the key was opened", n)
			}
		})
	}
}
