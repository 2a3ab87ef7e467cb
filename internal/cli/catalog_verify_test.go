package cli

import (
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"
)

// TestCatalogVerifyOutOfDate: a catalog that leaves out a newer bundle its
// repository holds (here: written before the push) is refused as out of
// date, exit 3, in one line naming the repository; written again, it
// verifies. In JSON the error carries the same exit code.
func TestCatalogVerifyOutOfDate(t *testing.T) {
	_, key, repo := signedCatalog(t)
	// Signed with the catalog's key: only a bundle that verifies counts.
	dir := testBundle(t)
	if code, _, stderr := run(t, "mirror", "sign", filepath.Join(dir, "manifest.json"), "--key", key+".key"); code != 0 {
		t.Fatal(stderr)
	}
	if code, _, stderr := run(t, "mirror", "push", dir, repo, "--plain-http"); code != 0 {
		t.Fatal(stderr)
	}
	code, stdout, stderr := run(t, "mirror", "catalog", repo, "--plain-http", "--verify", "--key", key+".pub")
	if code != ExitExpired || stdout != "" || !strings.HasPrefix(stderr, "stella: catalog of "+repo) || strings.Count(stderr, "\n") != 1 || !strings.Contains(stderr, "lists no bundle") {
		t.Fatalf("exit %d, stdout %q, stderr %q; want exit %d, one line", code, stdout, stderr, ExitExpired)
	}
	code, stdout, _ = run(t, "mirror", "catalog", repo, "--plain-http", "--verify", "--key", key+".pub", "--format", "json")
	var e errorResult
	if err := json.Unmarshal([]byte(stdout), &e); err != nil || code != ExitExpired || e.ExitCode != ExitExpired {
		t.Fatalf("exit %d: %s", code, stdout)
	}
	if code, _, stderr := run(t, "mirror", "catalog", repo, "--plain-http", "--key", key+".key"); code != 0 {
		t.Fatal(stderr)
	}
	if code, _, stderr := run(t, "mirror", "catalog", repo, "--plain-http", "--verify", "--key", key+".pub"); code != 0 {
		t.Fatalf("catalog written again: exit %d, %s", code, stderr)
	}
}
