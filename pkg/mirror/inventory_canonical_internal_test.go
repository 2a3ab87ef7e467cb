package mirror

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/opencontainers/go-digest"

	"github.com/stellaops/mirror/pkg/bundle"
	"github.com/stellaops/mirror/pkg/errdef"
)

// TestInventoryKeyTwiceRefused: an inventory is read only as inventory
// writes it. A key given twice (encoding/json keeps the last, jq shows
// both) is refused even under a signature that verifies, since another
// reader of the same signed bytes could read another statement.
func TestInventoryKeyTwiceRefused(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	pass := func() ([]byte, error) { return []byte("pw"), nil }
	kg, err := Keygen(KeygenOptions{OutputPrefix: filepath.Join(dir, "k"), Password: pass})
	if err != nil {
		t.Fatal(err)
	}
	root := digest.FromString("root")
	data, err := bundle.Canonical(&InventoryFile{SchemaVersion: 1, Registry: "registry.internal", BundleRepository: bundle.DefaultBundleRepository,
		GeneratedAt:  time.Date(2025, 12, 1, 0, 0, 0, 0, time.UTC),
		Bundles:      []InventoryBundle{{BundleID: "b", Version: "2025.10.0", Generation: 100, Root: root, CreatedAt: "2025-12-01T00:00:00Z"}},
		Repositories: map[string][]digest.Digest{bundle.DefaultBundleRepository: {root}}})
	if err != nil {
		t.Fatal(err)
	}
	twice := strings.Replace(string(data), `"mirrorGeneration": 100`, `"mirrorGeneration": 100, "mirrorGeneration": 9000000000`, 1)
	if twice == string(data) {
		t.Fatal("mutation changed nothing")
	}
	env, err := signDocument(ctx, kg.PrivateKey, pass, PayloadTypeInventory, []byte(twice))
	if err != nil {
		t.Fatal(err)
	}
	inv := filepath.Join(dir, "inventory.json")
	if err := os.WriteFile(inv, []byte(twice), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "inventory.dsse"), env, 0o644); err != nil {
		t.Fatal(err)
	}
	trust := TrustOptions{Keys: []string{kg.PublicKey}}
	// The refusal says where the form departs from inventory's.
	if _, err := loadInventoryBase(ctx, inv, trust); !errors.Is(err, errdef.ErrMalformed) || !strings.Contains(err.Error(), "not in canonical form") {
		t.Errorf("signed inventory with a key given twice: %v", err)
	}
	// The same statement, written once, is read.
	env, _ = signDocument(ctx, kg.PrivateKey, pass, PayloadTypeInventory, data)
	os.WriteFile(inv, data, 0o644)
	os.WriteFile(filepath.Join(dir, "inventory.dsse"), env, 0o644)
	if bi, err := loadInventoryBase(ctx, inv, trust); err != nil || bi.base.Generation != 100 {
		t.Errorf("inventory as inventory writes it: %+v, %v", bi, err)
	}
}
