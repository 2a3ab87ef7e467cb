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
// the operator now meets exit 11 naming the file, having read a byte past
// its bound. A named pipe there is refused at once, not waited on.
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
			path := filepath.Join(signer.dir, tc.file)
			testutil.SparseFile(t, path, 1<<30)
			var err error
			alloc := testutil.Allocated(func() { _, err = loadInventoryBase(context.Background(), inv, signer.trust) })
			if !errors.Is(err, errdef.ErrMalformed) || !strings.Contains(err.Error(), path) || alloc > 256<<20 {
				t.Errorf("%s of 1 GiB: %v, %d MiB allocated; want it refused as malformed, naming it, reading little past the %d bytes it may have", tc.file, err, alloc>>20, tc.bound)
			}
			os.Remove(path)
			testutil.EndlessFile(t, path, tc.bound+1)
			done := make(chan error, 1)
			go func() {
				_, err := loadInventoryBase(context.Background(), inv, signer.trust)
				done <- err
			}()
			select {
			case err := <-done:
				if !errors.Is(err, errdef.ErrMalformed) || !strings.Contains(err.Error(), path+": not a regular file") {
					t.Errorf("%s a named pipe: %v; want it refused as not a regular file", tc.file, err)
				}
			case <-time.After(20 * time.Second): // a safety net: it waits on the pipe
				t.Fatalf("loadInventoryBase still reading the named pipe %s", path)
			}
		})
	}
}
