package mirror

import (
	"context"
	"errors"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/opencontainers/go-digest"

	"github.com/stellaops/mirror/pkg/bundle"
	"github.com/stellaops/mirror/pkg/errdef"
)

// TestInventoryBaseGenerationBounds: a signed inventory whose newest bundle
// has a generation no delta can follow (the largest int64: plus one wraps)
// or none a bundle has (below 1) is refused as a base, naming the
// inventory and the generation; the generations around them are read.
func TestInventoryBaseGenerationBounds(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	pass := func() ([]byte, error) { return []byte("pw"), nil }
	kg, err := Keygen(KeygenOptions{OutputPrefix: filepath.Join(dir, "k"), Password: pass})
	if err != nil {
		t.Fatal(err)
	}
	trust := TrustOptions{Keys: []string{kg.PublicKey}}
	inv := filepath.Join(dir, "inventory.json")
	root := digest.FromString("root")
	for _, c := range []struct {
		generation int64
		wantErr    error
	}{
		{math.MaxInt64, errdef.ErrGeneration},
		{math.MaxInt64 - 1, nil},
		{1, nil},
		{0, errdef.ErrMalformed},
		{-1, errdef.ErrMalformed},
		{math.MinInt64, errdef.ErrMalformed},
	} {
		data, err := bundle.Canonical(&InventoryFile{SchemaVersion: 1, Registry: "registry.internal", BundleRepository: bundle.DefaultBundleRepository,
			GeneratedAt:  time.Date(2025, 12, 1, 0, 0, 0, 0, time.UTC),
			Bundles:      []InventoryBundle{{BundleID: "b", Version: "2025.10.0", Generation: c.generation, Root: root, CreatedAt: "2025-12-01T00:00:00Z"}},
			Repositories: map[string][]digest.Digest{bundle.DefaultBundleRepository: {root}}})
		if err != nil {
			t.Fatal(err)
		}
		env, err := signDocument(ctx, kg.PrivateKey, pass, PayloadTypeInventory, data)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(inv, data, 0o644); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, "inventory.dsse"), env, 0o644); err != nil {
			t.Fatal(err)
		}
		bi, err := loadBase(ctx, nil, inv, trust, nil)
		if c.wantErr == nil {
			if err != nil || bi.base.Generation != c.generation {
				t.Errorf("generation %d: %+v, %v", c.generation, bi, err)
			}
			continue
		}
		if !errors.Is(err, c.wantErr) || bi != nil || !strings.HasPrefix(err.Error(), "--base "+inv+": its newest bundle b has generation "+strconv.FormatInt(c.generation, 10)+", ") {
			t.Errorf("generation %d: %+v, %v; want %v", c.generation, bi, err, c.wantErr)
		}
	}
}
