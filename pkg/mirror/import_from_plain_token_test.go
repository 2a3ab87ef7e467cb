package mirror_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/stellaops/mirror/internal/testutil"
	"github.com/stellaops/mirror/pkg/errdef"
	"github.com/stellaops/mirror/pkg/mirror"
)

// TestImportFromPlainHTTPTokenInReferenceNotEchoed: import
// TOKEN@HOST/REPO:TAG --from-plain-http (or https://TOKEN@HOST/…, a CI
// job's clone URL) was refused as a FILE or DIR given --from-plain-http,
// quoting the source whole, token and all: "--from-plain-http:
// TOKEN@HOST/REPO:TAG is no registry reference". Without the flag it was
// refused as holding credentials, the token blanked; with it too (found by
// review).
func TestImportFromPlainHTTPTokenInReferenceNotEchoed(t *testing.T) {
	const secret = "glpat-s3cr3tT0ken"
	for _, src := range []string{secret + "@registry.internal/stellaops/mirror-bundle:1", "https://" + secret + "@registry.internal/stellaops/mirror-bundle:1"} {
		_, err := mirror.Import(context.Background(), mirror.ImportOptions{Source: src, Registry: "127.0.0.1:1", SourcePlainHTTP: true, Client: testutil.Client(t)})
		if !errors.Is(err, errdef.ErrUsage) || strings.Contains(err.Error(), secret) {
			t.Errorf("import %s --from-plain-http: %v; want it refused, the token blanked", strings.ReplaceAll(src, secret, "TOKEN"), err)
		}
	}
}
