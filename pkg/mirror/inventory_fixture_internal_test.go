package mirror

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/opencontainers/go-digest"

	"github.com/stellaops/mirror/pkg/bundle"
)

// inventorySigner is a key pair in a test's directory that signs
// inventories written there as inventory.json and inventory.dsse.
type inventorySigner struct {
	t     *testing.T
	dir   string
	key   string
	trust TrustOptions
}

func newInventorySigner(t *testing.T) *inventorySigner {
	t.Helper()
	dir := t.TempDir()
	kg, err := Keygen(context.Background(), KeygenOptions{OutputPrefix: filepath.Join(dir, "k"), Password: inventoryPass})
	if err != nil {
		t.Fatal(err)
	}
	return &inventorySigner{t: t, dir: dir, key: kg.PrivateKey, trust: TrustOptions{Keys: []string{kg.PublicKey}}}
}

func inventoryPass() ([]byte, error) { return []byte("pw"), nil }

// oneBundleInventory is the canonical inventory of a registry whose bundle
// repository holds one bundle, b, of the given generation.
func oneBundleInventory(t *testing.T, generation int64) []byte {
	t.Helper()
	root := digest.FromString("root")
	data, err := bundle.Canonical(&InventoryFile{SchemaVersion: 1, Registry: "registry.internal", BundleRepository: bundle.DefaultBundleRepository,
		GeneratedAt:  time.Date(2025, 12, 1, 0, 0, 0, 0, time.UTC),
		Bundles:      []InventoryBundle{{BundleID: "b", Version: "2025.10.0", Generation: generation, Root: root, CreatedAt: "2025-12-01T00:00:00Z"}},
		Repositories: map[string][]digest.Digest{bundle.DefaultBundleRepository: {root}}})
	if err != nil {
		t.Fatal(err)
	}
	return data
}

// write signs data and writes it, with its signature beside it; it
// returns the inventory's path.
func (s *inventorySigner) write(data []byte) string {
	s.t.Helper()
	env, err := signDocument(context.Background(), s.key, inventoryPass, PayloadTypeInventory, data)
	if err != nil {
		s.t.Fatal(err)
	}
	inv := filepath.Join(s.dir, "inventory.json")
	if err := os.WriteFile(inv, data, 0o644); err != nil {
		s.t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(s.dir, "inventory.dsse"), env, 0o644); err != nil {
		s.t.Fatal(err)
	}
	return inv
}
