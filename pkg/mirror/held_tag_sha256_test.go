package mirror_test

import (
	"context"
	"errors"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stellaops/mirror/internal/sample"
	"github.com/stellaops/mirror/internal/testutil"
	"github.com/stellaops/mirror/pkg/errdef"
	"github.com/stellaops/mirror/pkg/mirror"
)

// TestHeldTagSha256Prefix: a release version that begins "sha256-" but is
// not a digest's artifact tag (sha256-<64 hex>, .sig, .att, .sbom), which
// create takes, tags its bundle root so. The rollback check, inventory
// and catalog passed over every tag beginning "sha256-", so the newest
// bundle held under one was hidden: an older bundle was imported over it,
// a rollback. Only the reserved tags are passed over now.
func TestHeldTagSha256Prefix(t *testing.T) {
	ctx := context.Background()
	host := testutil.Registry(t)
	newer := newSignedSample(t, sample.Spec{Version: "sha256-2025.12.0", Variant: 7}, fixedTime.Unix()+2)
	older := newSignedSample(t, sample.Spec{Version: "2025.11.0", Variant: 5}, fixedTime.Unix()+1)
	sign(t, older.dir, newer.priv)
	if _, err := mirror.Import(ctx, importOpts(t, newer.dir, host, newer.pub)); err != nil {
		t.Fatal(err)
	}
	inv, err := mirror.Inventory(ctx, mirror.InventoryOptions{Registry: host, Output: filepath.Join(t.TempDir(), "inv.json"),
		Trust: trustKeys(newer.pub), Client: testutil.Client(t)})
	if err != nil {
		t.Fatal(err)
	}
	if inv.Bundles != 1 {
		t.Errorf("inventory lists %d bundles; want the one tagged sha256-2025.12.0", inv.Bundles)
	}
	_, err = mirror.Import(ctx, importOpts(t, older.dir, host, newer.pub))
	if !errors.Is(err, errdef.ErrGeneration) || !strings.Contains(err.Error(), "sha256-2025.12.0") {
		t.Errorf("import of an older bundle over one tagged sha256-2025.12.0: %v; want a generation refusal naming it", err)
	}
}
