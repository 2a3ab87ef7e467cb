package bundle_test

import (
	"strings"
	"testing"

	"github.com/stellaops/mirror/pkg/bundle"
)

// TestTokenBeforeHostOfOneLabelNotPrinted: an image reference (a release
// file's line, create --base) of a token before a host of one label with
// no path after it (https://TOKEN@registry, TOKEN/…@registry: the
// repository left out) was taken for no credentials, the host not reading
// as one, and failed as a bad digest, the token printed whole; with a
// scheme an @ before the host ends credentials whatever follows, and what
// is before it is no repository (capitals, + and =). A tag typed after an
// @ still fails as a bad digest (found by review).
func TestTokenBeforeHostOfOneLabelNotPrinted(t *testing.T) {
	const secret = "S3cr3t+T0ken/Base64="
	for _, ref := range []string{"https://" + secret + "@registry", "gl/" + secret + "@registry"} {
		_, err := bundle.ParseImageRef(ref)
		if err == nil || strings.Contains(err.Error(), "T0ken") || !strings.Contains(err.Error(), "credentials") {
			t.Errorf("ParseImageRef(%q): %v; want it refused as holding credentials, the token blanked", strings.ReplaceAll(ref, secret, "SECRET"), err)
		}
	}
	for _, ref := range []string{"registry.internal/a/b@latest", "127.0.0.1:5000/a/b@1.36", "busybox@1.36"} {
		if _, err := bundle.ParseImageRef(ref); err == nil || strings.Contains(err.Error(), "credentials") {
			t.Errorf("ParseImageRef(%q): %v; want a bad digest, not credentials", ref, err)
		}
	}
}
