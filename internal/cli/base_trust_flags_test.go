package cli

import (
	"path/filepath"
	"strings"
	"testing"

	"github.com/stellaops/mirror/internal/sample"
	"github.com/stellaops/mirror/internal/testutil"
)

// create --base INVENTORY.json with --base-trust-root alone is refused
// naming create's flags: an inventory carries no certificate, so its
// signer's key is given with --base-key. It said to give it with --key,
// which for create is the key that signs the new bundle.
func TestBaseInventoryTrustRootNamesBaseFlags(t *testing.T) {
	host := testutil.Registry(t)
	_, releaseFile, advisories := testutil.PushSample(t, host, sample.Spec{})
	golden := filepath.Join("..", "..", "testdata", "bundles", "v1")
	code, stdout, stderr := run(t, "mirror", "create", "--images", releaseFile, "--advisories", advisories,
		"--output", filepath.Join(t.TempDir(), "delta"), "--plain-http",
		"--base", filepath.Join(golden, "inventory.json"), "--base-trust-root", filepath.Join(golden, "keys", "root.pem"))
	const want = "so --base-trust-root cannot verify it: give its signer's public key with --base-key"
	if code != ExitInput || !strings.Contains(stderr, want) {
		t.Fatalf("exit %d, want %d saying %q\n%s%s", code, ExitInput, want, stdout, stderr)
	}
}
