package bundle_test

import (
	"strings"
	"testing"

	"github.com/stellaops/mirror/pkg/bundle"
)

// TestDigestAlgorithmInCapitalsNotCredentials: a digest whose algorithm
// is typed in capitals (registry.internal/a@SHA256:…, as some tools print
// it) in a release file was refused as holding credentials, the name
// blanked ("***@SHA256:…": no credentials in a reference), and
// localhost:5000/x@SHA256:… given to pull as holding a password
// ("localhost:***@SHA256:…"): it is a mistyped digest, and fails as one,
// naming the reference (found by review).
func TestDigestAlgorithmInCapitalsNotCredentials(t *testing.T) {
	hex := strings.Repeat("a", 64)
	for _, ref := range []string{"registry.internal/a@SHA256:" + hex, "localhost:5000/x@SHA256:" + hex} {
		if !bundle.DigestShaped(ref[strings.LastIndex(ref, "@")+1:]) {
			t.Errorf("DigestShaped of %s: false; a digest typed in capitals is still one", ref)
		}
		_, err := bundle.ParseImageRef(ref)
		if err == nil || strings.Contains(err.Error(), "credentials") || !strings.Contains(err.Error(), ref) {
			t.Errorf("ParseImageRef(%q): %v; want it refused as a bad digest, naming the reference", ref, err)
		}
	}
}
