package bundle_test

import (
	"strings"
	"testing"

	"github.com/stellaops/mirror/pkg/bundle"
)

// TestDigestShapedHoldsNoSlash: a reference with credentials before a host
// named sha256 (user:PASSWORD@sha256:5000/a/b:1) was taken for a mistyped
// digest, name@sha256:…, and failed as one, the password printed: a digest
// holds no /, so an @ followed by ALGORITHM:… and a path is a host's
// (found by review).
func TestDigestShapedHoldsNoSlash(t *testing.T) {
	const secret = "hunter2-never-shown"
	for _, s := range []string{"sha256:5000/a/b:1", "sha512:443/x"} {
		if bundle.DigestShaped(s) {
			t.Errorf("DigestShaped(%q): true; a digest holds no /", s)
		}
	}
	if !bundle.DigestShaped("sha256:abc") {
		t.Error("DigestShaped(sha256:abc): false; a mistyped digest is still one")
	}
	for _, ref := range []string{"user:" + secret + "@sha256:5000/a/b:1", secret + "@sha256:5000/a/b@sha256:" + strings.Repeat("a", 64)} {
		_, err := bundle.ParseImageRef(ref)
		if err == nil || strings.Contains(err.Error(), secret) || !strings.Contains(err.Error(), "credentials") {
			t.Errorf("ParseImageRef(%q): %v; want it refused as holding credentials, the password blanked", ref, err)
		}
	}
}
