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
	host := testutil.Registry(t)
	priv, _ := testKeys(t, "cosign")
	out := filepath.Join(t.TempDir(), "inventory.json")
	opts := mirror.InventoryOptions{Registry: host, Output: out, Key: priv, Password: testPass, Now: fixedTime, Client: testutil.Client(t)}
	if _, err := mirror.Inventory(ctx, opts); err != nil {
		t.Fatal(err)
	}
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
