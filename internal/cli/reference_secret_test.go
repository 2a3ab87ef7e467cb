package cli

import (
	"strings"
	"testing"
)

// TestTokenInReferenceNotEchoed: the check that refuses USER:PASSWORD@ in
// a reference sees no password in a token alone (https://TOKEN@HOST/…, as
// a CI job's clone URL has it) or in sync's references, which sync
// --to-plain-http/--from-plain-http read first; the refusal that followed
// quoted the reference whole, token and all ('reference
// "https://TOKEN@HOST/REPO": no scheme…', 'stella: TOKEN@HOST/REPO:TAG:
// invalid reference: …'). Each is refused, exit 1, on one line, with the
// token hidden.
func TestTokenInReferenceNotEchoed(t *testing.T) {
	const secret = "glpat-s3cr3tT0ken"
	dir := t.TempDir()
	for _, args := range [][]string{
		{"mirror", "push", dir, "https://" + secret + "@registry.internal/stellaops/mirror-bundle"},
		{"mirror", "pull", "https://" + secret + "@registry.internal/stellaops/mirror-bundle:2025.10.0", dir + "/out"},
		{"mirror", "sync", secret + "@registry.internal/stellaops/mirror-bundle:2025.10.0", "registry.internal/other/mirror-bundle", "--from-plain-http"},
		{"mirror", "sync", "registry.internal/stellaops/mirror-bundle:2025.10.0", secret + "@registry.internal/other/mirror-bundle", "--to-plain-http"},
	} {
		code, _, stderr := run(t, args...)
		if code != 1 || strings.Contains(stderr, secret) || strings.Count(strings.TrimSpace(stderr), "\n") != 0 {
			t.Errorf("%v: exit %d, stderr %q; want exit 1, one line without the token", args[1:], code, stderr)
		}
	}
}
