//go:build unix

package mirror

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stellaops/mirror/internal/testutil"
	"github.com/stellaops/mirror/pkg/dsse"
	"github.com/stellaops/mirror/pkg/errdef"
)

// TestInventoryBaseOverBoundRefused: create --base inv.json reads the
// inventory and its inv.dsse off the media carried back from the far side.
// With a 1 GiB file in either place it took 1 GiB of memory to refuse it;
// the operator now meets exit 11 naming the file, at once. Each file here
// gives a byte more than its bound and never ends: a reader that reads it
// whole first is still waiting when the test gives up.
func TestInventoryBaseOverBoundRefused(t *testing.T) {
	for _, tc := range []struct {
		name, file string
		bound      int
	}{
		{"inventory", "inventory.json", maxInventoryFile},
		{"signature", "inventory.dsse", dsse.MaxEnvelopeSize},
	} {
		t.Run(tc.name, func(t *testing.T) {
			signer := newInventorySigner(t)
			inv := signer.write(oneBundleInventory(t, 100))
			endless := filepath.Join(signer.dir, tc.file)
			if err := os.Remove(endless); err != nil {
				t.Fatal(err)
			}
			testutil.EndlessFile(t, endless, tc.bound+1)
			done := make(chan error, 1)
			go func() {
				_, err := loadInventoryBase(context.Background(), inv, signer.trust)
				done <- err
			}()
			select {
			case err := <-done:
				if !errors.Is(err, errdef.ErrMalformed) || !strings.Contains(err.Error(), endless) {
					t.Errorf("%s over the bound: %v; want it refused as malformed, naming it", tc.file, err)
				}
			case <-time.After(20 * time.Second):
				t.Fatalf("loadInventoryBase still reading %s past the %d bytes it may have", endless, tc.bound)
			}
		})
	}
}
