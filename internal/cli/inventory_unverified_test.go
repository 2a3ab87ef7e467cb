package cli

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stellaops/mirror/internal/testutil"
)

// inventory without --key and --bundle-key lists every root, unverified,
// and says so (its --help, TROUBLESHOOT). It failed instead, exit 1, with
// "--threshold 1 exceeds the 0 distinct trusted key(s) --key gives": two
// flags the operator never gave, and no file (found by review). The
// threshold's default counts only where someone is trusted.
func TestInventoryWithoutKeysListsUnverified(t *testing.T) {
	host := testutil.Registry(t)
	dir := testBundle(t)
	if code, _, stderr := run(t, "mirror", "push", dir, host+"/stellaops/mirror-bundle", "--plain-http"); code != 0 {
		t.Fatal(stderr)
	}
	out := filepath.Join(t.TempDir(), "inventory.json")
	code, _, stderr := run(t, "mirror", "inventory", "--registry", host, "--plain-http", "--output", out)
	if code != 0 || !strings.Contains(stderr, "without verifying their signatures") {
		t.Fatalf("inventory without keys: exit %d, want 0 and a warning:\n%s", code, stderr)
	}
	data, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	var inv struct {
		Bundles []json.RawMessage `json:"bundles"`
	}
	if err := json.Unmarshal(data, &inv); err != nil || len(inv.Bundles) != 1 {
		t.Fatalf("inventory lists %d bundles (%v), want the one pushed:\n%s", len(inv.Bundles), err, data)
	}
}
