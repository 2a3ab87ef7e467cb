package cli

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestInventoryAndCatalogSkipUnverifiedRoots: a bundle pushed unsigned
// into the bundle repository (anyone with push rights can) is neither
// listed by a signed inventory nor by the catalog, and no longer makes
// catalog --verify fail as out of date (it was exit 3) once the bundles'
// key is given. Each command names
// the root on one stderr line and counts it, in text and JSON; inventory
// --key without --bundle-key is a usage error (exit 1) that writes nothing.
func TestInventoryAndCatalogSkipUnverifiedRoots(t *testing.T) {
	dir, key, repo := signedCatalog(t)
	host, _, _ := strings.Cut(repo, "/")
	if code, _, stderr := run(t, "mirror", "push", testBundle(t), repo, "--plain-http"); code != 0 {
		t.Fatal(stderr)
	}
	inv := filepath.Join(dir, "inventory.json")
	code, _, stderr := run(t, "mirror", "inventory", "--registry", host, "--plain-http", "--output", inv, "--key", key+".key")
	if code != ExitInput || !strings.Contains(stderr, "--bundle-key") || strings.Count(stderr, "\n") != 1 {
		t.Fatalf("inventory --key without --bundle-key: exit %d, %q", code, stderr)
	}
	if _, err := os.Stat(inv); !os.IsNotExist(err) {
		t.Errorf("refused inventory left %s (%v)", inv, err)
	}
	code, stdout, stderr := run(t, "mirror", "inventory", "--registry", host, "--plain-http", "--output", inv, "--key", key+".key", "--bundle-key", key+".pub")
	if code != 0 || !strings.Contains(stdout, "0 bundles") || !strings.Contains(stdout, "Skipped 1 bundle root that did not verify") {
		t.Fatalf("inventory: exit %d, stdout %q, stderr %q", code, stdout, stderr)
	}
	if n := strings.Count(stderr, "skipped bundle root sha256:"); n != 1 || !strings.Contains(stderr, "(tag 2025.10.0): not verified") {
		t.Errorf("inventory names the unsigned root in %d stderr lines: %q", n, stderr)
	}
	code, stdout, _ = run(t, "mirror", "inventory", "--registry", host, "--plain-http", "--output", inv, "--key", key+".key", "--bundle-key", key+".pub", "--format", "json")
	var res struct {
		Bundles       int  `json:"bundles"`
		RootsVerified bool `json:"rootsVerified"`
		NotVerified   int  `json:"notVerified"`
		NewerFormat   int  `json:"newerFormat"`
	}
	if err := json.Unmarshal([]byte(stdout), &res); err != nil || code != 0 || res.Bundles != 0 || !res.RootsVerified || res.NotVerified != 1 || res.NewerFormat != 0 {
		t.Errorf("inventory --format json: exit %d, %s", code, stdout)
	}
	code, stdout, stderr = run(t, "mirror", "catalog", repo, "--plain-http", "--key", key+".key")
	if code != 0 || strings.Contains(stdout, "2025.10.0") || !strings.Contains(stdout, "Skipped 1 bundle root that did not verify") || strings.Count(stderr, "skipped bundle root") != 1 {
		t.Fatalf("catalog: exit %d, stdout %q, stderr %q", code, stdout, stderr)
	}
	// The catalog lists no bundle, so its key is not known to sign the
	// bundles: without --bundle-key the unsigned root could be one
	// published since (exit 1, asking for the key); with it, it is skipped.
	code, _, stderr = run(t, "mirror", "catalog", repo, "--plain-http", "--verify", "--key", key+".pub")
	if code != ExitInput || !strings.Contains(stderr, "give --bundle-key") || strings.Count(stderr, "\n") != 1 {
		t.Errorf("catalog --verify without --bundle-key, a root unlisted: exit %d, stderr %q", code, stderr)
	}
	code, stdout, stderr = run(t, "mirror", "catalog", repo, "--plain-http", "--verify", "--key", key+".pub", "--bundle-key", key+".pub")
	if code != 0 || !strings.Contains(stdout, "Skipped 1 bundle root that did not verify") {
		t.Errorf("catalog --verify with an unsigned root pushed: exit %d, stdout %q, stderr %q", code, stdout, stderr)
	}
}
