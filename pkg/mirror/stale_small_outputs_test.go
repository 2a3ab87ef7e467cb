package mirror_test

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/stellaops/mirror/pkg/mirror"
)

// TestSmallOutputsRemoveKilledTemporaries leaves beside an envelope signed
// outside a bundle, and beside a signed inventory and its signature, the
// temporary files a run killed before their renames leaves
// (.NAME.tmp-N, as layout.CreateTemp names them): the next run removes
// them, as pack, keygen and create do theirs. They were left for good.
// A file of another name stays.
func TestSmallOutputsRemoveKilledTemporaries(t *testing.T) {
	plant := func(t *testing.T, dir string, names ...string) []string {
		t.Helper()
		var paths []string
		for _, n := range names {
			p := filepath.Join(dir, n)
			writeFile(t, p, "what a killed run left")
			paths = append(paths, p)
		}
		return paths
	}
	check := func(t *testing.T, left []string, kept string) {
		t.Helper()
		for _, p := range left {
			if _, err := os.Lstat(p); err == nil {
				t.Errorf("%s is still there after the next run", filepath.Base(p))
			}
		}
		if _, err := os.Lstat(kept); err != nil {
			t.Errorf("a file not a temporary of the output was removed: %v", err)
		}
	}
	t.Run("envelope outside a bundle", func(t *testing.T) {
		dir := t.TempDir()
		writeFile(t, filepath.Join(dir, "manifest.json"), `{"hello":"world"}`+"\n")
		left := plant(t, dir, ".manifest.dsse.tmp-1234567", ".certificate.pem.tmp-42")
		kept := plant(t, dir, ".notes.tmp-1")[0]
		priv, _ := testKeys(t, "cosign")
		if _, err := mirror.Sign(t.Context(), mirror.SignOptions{Manifest: filepath.Join(dir, "manifest.json"), Key: priv, Password: testPass}); err != nil {
			t.Fatal(err)
		}
		check(t, left, kept)
	})
	t.Run("signed inventory", func(t *testing.T) {
		opts := signedInventory(t)
		dir := filepath.Dir(opts.Output)
		left := plant(t, dir, ".inventory.json.tmp-987654", ".inventory.dsse.tmp-3")
		kept := plant(t, dir, ".other.json.tmp-3")[0]
		if _, err := mirror.Inventory(t.Context(), opts); err != nil {
			t.Fatal(err)
		}
		check(t, left, kept)
	})
}
