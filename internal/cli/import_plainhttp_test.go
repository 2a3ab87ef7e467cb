package cli

import (
	"strings"
	"testing"

	"github.com/stellaops/mirror/internal/testutil"
	"github.com/stellaops/mirror/pkg/remote"
)

// TestImportRefBetweenTLSAndPlainHTTP: import REF reads the bundle from one
// registry and writes another, and could not where one has TLS and the
// other not: --plain-http talks HTTP to both, and without it the plain
// one fails, each error advising the other way ("--plain-http, if it has
// no TLS", "drop --plain-http"). --from-plain-http and --to-plain-http
// talk plain HTTP to that side only, as sync's do, the other keeping TLS
// and its --ca-file.
func TestImportRefBetweenTLSAndPlainHTTP(t *testing.T) {
	r, mirror := tlsAndPlainRegistries(t)
	tlsHost, plainHost, bundleDir := r.tlsHost, r.plainHost, r.bundleDir
	mirror("push to the plain registry", 0, "push", bundleDir, plainHost+"/stellaops/mirror-bundle:2025.10.0", "--plain-http")

	// Plain source, TLS target: --plain-http is both sides, the TLS one answers 400.
	if stderr := mirror("import, --plain-http", ExitInput, "import", plainHost+"/stellaops/mirror-bundle:2025.10.0", "--registry", tlsHost, "--plain-http"); !strings.Contains(stderr, "drop --plain-http") {
		t.Errorf("import --plain-http into a TLS registry does not say to drop it:\n%s", stderr)
	}
	if stderr := mirror("import, HTTPS both", ExitInput, "import", plainHost+"/stellaops/mirror-bundle:2025.10.0", "--registry", tlsHost); !strings.Contains(stderr, "--from-plain-http") {
		t.Errorf("import of a plain registry's bundle into a TLS one does not name --from-plain-http:\n%s", stderr)
	}
	mirror("import plain to TLS", 0, "import", plainHost+"/stellaops/mirror-bundle:2025.10.0", "--registry", tlsHost, "--from-plain-http")
	tlsClient, err := remote.New(remote.Options{CAFile: r.caFile, ConfigFile: r.config})
	if err != nil {
		t.Fatal(err)
	}
	if tags := testutil.TagsWith(t, tlsClient, tlsHost); len(tags["stellaops/mirror-bundle"]) == 0 || len(tags["stellaops/authority"]) == 0 {
		t.Errorf("the TLS registry holds %v after the import, want the bundle and its images", tags)
	}

	// TLS source, plain target.
	other := testutil.Registry(t)
	mirror("import TLS to plain", 0, "import", tlsHost+"/stellaops/mirror-bundle:2025.10.0", "--registry", other, "--to-plain-http")
	if tags := testutil.Tags(t, other); len(tags["stellaops/mirror-bundle"]) == 0 || len(tags["stellaops/authority"]) == 0 {
		t.Errorf("the plain registry holds %v after the import, want the bundle and its images", tags)
	}
}
