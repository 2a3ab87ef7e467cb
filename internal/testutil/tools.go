package testutil

import (
	"os"
	"os/exec"
	"testing"
)

// Tool finds a command-line tool the end-to-end tests drive ("oras",
// "crane", "conformance"): $env if set, else name on $PATH (`make tools`
// installs them and puts them there). Without it the test is skipped,
// unless STELLA_E2E=1 (as in CI), where it fails.
func Tool(t testing.TB, name, env string) string {
	t.Helper()
	if p := os.Getenv(env); p != "" {
		if st, err := os.Stat(p); err == nil && !st.IsDir() {
			return p
		}
	}
	if p, err := exec.LookPath(name); err == nil {
		return p
	}
	if os.Getenv("STELLA_E2E") == "1" {
		t.Fatalf("%s not found (run `make tools`, or set %s)", name, env)
	}
	t.Skipf("%s not found; run `make tools` (CI sets STELLA_E2E=1 and fails instead)", name)
	return ""
}
