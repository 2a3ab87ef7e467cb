package mirror_test

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/stellaops/mirror/internal/testutil"
	"github.com/stellaops/mirror/pkg/mirror"
)

// inventory --key wrote inventory.json first and signed it afterwards: a
// key that does not open (a wrong COSIGN_PASSWORD, a KMS that is down)
// failed the command after inventory.json had been replaced, leaving the
// previous run's inventory.dsse beside a new inventory.json it does not
// sign (create --base inventory.json with trust then fails on it). The
// files should be written only once the signature is made.
func TestInventoryWrongKeyWritesNothing(t *testing.T) {
	ctx := context.Background()
	opts := signedInventory(t)
	out := opts.Output
	before, _ := os.ReadFile(out)
	opts.Now = fixedTime.Add(24 * 60 * 60 * 1e9)
	opts.Password = func() ([]byte, error) { return []byte("wrong"), nil }
	if _, err := mirror.Inventory(ctx, opts); err == nil {
		t.Fatal("inventory with a wrong password succeeded")
	}
	if after, _ := os.ReadFile(out); string(after) != string(before) {
		t.Fatalf("a failed inventory --key replaced %s (its old signature no longer matches it)", filepath.Base(out))
	}
}

// An inventory written again without --key left the previous run's
// inventory.dsse beside it, a signature over other bytes: create
// --base-key then failed with a signature mismatch (exit 5) where the
// inventory is simply unsigned. The stale signature is removed.
func TestUnsignedInventoryRemovesStaleSignature(t *testing.T) {
	ctx := context.Background()
	opts := signedInventory(t)
	out := opts.Output
	sig := filepath.Join(filepath.Dir(out), "inventory.dsse")
	if _, err := os.Stat(sig); err != nil {
		t.Fatalf("signed inventory: %v", err)
	}
	opts.Key, opts.Now = "", fixedTime.Add(24*60*60*1e9)
	res, err := mirror.Inventory(ctx, opts)
	if err != nil {
		t.Fatal(err)
	}
	if res.Signature != "" {
		t.Fatalf("unsigned inventory reports signature %s", res.Signature)
	}
	if _, err := os.Stat(sig); !os.IsNotExist(err) {
		t.Fatalf("the previous run's %s is still beside the new unsigned inventory (stat: %v)", filepath.Base(sig), err)
	}
}

// signedInventory writes a signed inventory of an empty in-process registry
// and returns the options that wrote it.
func signedInventory(t *testing.T) mirror.InventoryOptions {
	t.Helper()
	priv, pub := testKeys(t, "cosign")
	out := filepath.Join(t.TempDir(), "inventory.json")
	opts := mirror.InventoryOptions{Registry: testutil.Registry(t), Output: out, Key: priv, Password: testPass, Trust: trustKeys(pub), Now: fixedTime, Client: testutil.Client(t)}
	if _, err := mirror.Inventory(t.Context(), opts); err != nil {
		t.Fatal(err)
	}
	return opts
}
