package mirror_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stellaops/mirror/pkg/errdef"
	"github.com/stellaops/mirror/pkg/mirror"
)

// TestInventoryBaseNeedsAKey: an inventory crosses from the far side on
// the same media as anything else, and what it says becomes part of a
// statement the release signer signs: the delta's mirrorGeneration is the
// inventory's newest plus one. Without --base-key, create read it
// unchecked, even an edited one with its (now failing) signature beside it,
// and signed a bundle whose generation the edit chose (one far above the
// clock locks the far side out of every later full bundle, exit 8). It is
// refused now (exit 1, asking for --base-key) before anything is written.
func TestInventoryBaseNeedsAKey(t *testing.T) {
	t.Parallel()
	f := newDeltaFixture(t)
	ctx := context.Background()
	inv, _ := f.inventory(t)
	data, _ := os.ReadFile(inv)
	forged := strings.Replace(string(data), `"mirrorGeneration": 100`, `"mirrorGeneration": 4000000000`, 1)
	if forged == string(data) {
		t.Fatal("mutation changed nothing")
	}
	os.WriteFile(inv, []byte(forged), 0o644)
	out := filepath.Join(t.TempDir(), "delta")
	opts := createOpts(t, f.releaseB, f.advisoriesB, out)
	opts.Base = inv
	_, err := mirror.Create(ctx, opts)
	if !errors.Is(err, errdef.ErrUsage) || !strings.Contains(err.Error(), inv) || !strings.Contains(err.Error(), "--base-key") {
		t.Fatalf("create --base an edited inventory without --base-key: %v", err)
	}
	if _, err := os.Stat(out); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("refused create left %s (%v)", out, err)
	}
}
