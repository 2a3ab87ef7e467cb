package cli

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"unicode"

	"github.com/stellaops/mirror/internal/testutil"
)

// TestErrorsEscapeControlCharacters: an error names what is at fault, and
// that name may come from hostile media or a registry (a file in a bundle
// directory, a tag, a registry's error text). The one error line must not
// carry a terminal escape or a line break of its own, in text or JSON.
func TestErrorsEscapeControlCharacters(t *testing.T) {
	dir := testBundle(t)
	evil := "a\x1b]0;pwned\a\x1b[2J\r\u009b31m\u202e"
	if err := os.WriteFile(filepath.Join(dir, "docs", evil), []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	code, stdout, stderr := run(t, "mirror", "verify-checksums", dir, "--quiet")
	if code != ExitDigest || stdout != "" {
		t.Fatalf("exit %d, stdout %q, stderr %q", code, stdout, stderr)
	}
	line, ok := strings.CutSuffix(stderr, "\n")
	if !ok || !strings.HasPrefix(line, "stella: ") || !strings.Contains(line, `docs/a\x1b]0;pwned\a\x1b[2J\r\u009b31m\u202e`) {
		t.Errorf("stderr %q: want one line naming the file, escaped", stderr)
	}
	for _, r := range line {
		if !unicode.IsPrint(r) {
			t.Errorf("stderr %q holds %U", stderr, r)
		}
	}
	code, stdout, _ = run(t, "mirror", "verify-checksums", dir, "--format", "json")
	var e errorResult
	if err := json.Unmarshal([]byte(stdout), &e); err != nil || code != ExitDigest || e.ExitCode != code {
		t.Fatalf("exit %d: %s", code, stdout)
	}
	for _, r := range e.Error {
		if !unicode.IsPrint(r) {
			t.Errorf("JSON error %q holds %U", e.Error, r)
		}
	}
}

// TestCatalogVerifyRefusesOutput: --output writes the catalog's files, which
// --verify does not make; given both, catalog verified and said nothing of
// the files asked for. It is a usage error, met before any request; so is
// --trust-root when signing.
func TestCatalogVerifyRefusesOutput(t *testing.T) {
	dir, key, repo := signedCatalog(t)
	out := filepath.Join(dir, "media")
	code, stdout, stderr := run(t, "mirror", "catalog", repo, "--plain-http", "--verify", "--key", key+".pub", "--output", out)
	if code != ExitInput || stdout != "" || !strings.HasPrefix(stderr, "stella: ") || strings.Count(stderr, "\n") != 1 {
		t.Fatalf("exit %d, stdout %q, stderr %q", code, stdout, stderr)
	}
	if _, err := os.Stat(out); !os.IsNotExist(err) {
		t.Errorf("%s: %v", out, err)
	}
	// Signing trusts no root: --trust-root there was ignored as well.
	code, _, stderr = run(t, "mirror", "catalog", repo, "--plain-http", "--key", key+".key", "--trust-root", key+".pub")
	if code != ExitInput || !strings.Contains(stderr, "--trust-root") {
		t.Errorf("signing with --trust-root: exit %d, stderr %q", code, stderr)
	}
}

// signedCatalog makes a key pair DIR/k (COSIGN_PASSWORD "x") and writes a
// signed catalog of an empty bundle repository REPO in an in-process
// registry with it.
func signedCatalog(t *testing.T) (dir, key, repo string) {
	t.Helper()
	host := testutil.Registry(t)
	dir = t.TempDir()
	t.Setenv("COSIGN_PASSWORD", "x")
	key = filepath.Join(dir, "k")
	if code, _, stderr := run(t, "mirror", "keygen", "--output-key-prefix", key); code != 0 {
		t.Fatal(stderr)
	}
	repo = host + "/stellaops/mirror-bundle"
	if code, _, stderr := run(t, "mirror", "catalog", repo, "--plain-http", "--key", key+".key"); code != 0 {
		t.Fatal(stderr)
	}
	return dir, key, repo
}
