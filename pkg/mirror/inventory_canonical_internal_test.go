package mirror

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/stellaops/mirror/pkg/errdef"
)

// TestInventoryKeyTwiceRefused: an inventory is read only as inventory
// writes it. A key given twice (encoding/json keeps the last, jq shows
// both) is refused even under a signature that verifies, since another
// reader of the same signed bytes could read another statement.
func TestInventoryKeyTwiceRefused(t *testing.T) {
	ctx := context.Background()
	signer := newInventorySigner(t)
	data := oneBundleInventory(t, 100)
	twice := strings.Replace(string(data), `"mirrorGeneration": 100`, `"mirrorGeneration": 100, "mirrorGeneration": 9000000000`, 1)
	if twice == string(data) {
		t.Fatal("mutation changed nothing")
	}
	inv := signer.write([]byte(twice))
	// The refusal says where the form departs from inventory's.
	if _, err := loadInventoryBase(ctx, inv, signer.trust); !errors.Is(err, errdef.ErrMalformed) || !strings.Contains(err.Error(), "not in canonical form") {
		t.Errorf("signed inventory with a key given twice: %v", err)
	}
	// The same statement, written once, is read.
	signer.write(data)
	if bi, err := loadInventoryBase(ctx, inv, signer.trust); err != nil || bi.base.Generation != 100 {
		t.Errorf("inventory as inventory writes it: %+v, %v", bi, err)
	}
}
