package mirror_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stellaops/mirror/internal/testutil"
	"github.com/stellaops/mirror/pkg/errdef"
	"github.com/stellaops/mirror/pkg/mirror"
)

// TestImportFromPlainHTTPOfAFileRefused: import bundle.tar --registry
// HOST:5000 --from-plain-http (meant for a target without TLS) ignored the
// flag, a file being read from disk, and failed at the target with "the
// registry speaks plain HTTP: --plain-http …; --from-plain-http or
// --to-plain-http for one side only of … an import REF", the flag the user
// had given. It is refused as usage before anything is read, pointing at
// --to-plain-http; with a REF source it is taken as before (found by
// review).
func TestImportFromPlainHTTPOfAFileRefused(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "bundle.tar")
	if err := os.WriteFile(file, []byte("not read"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, src := range []string{file, dir} {
		_, err := mirror.Import(context.Background(), mirror.ImportOptions{Source: src, Registry: "127.0.0.1:1", SourcePlainHTTP: true, Client: testutil.Client(t)})
		if !errors.Is(err, errdef.ErrUsage) || !strings.Contains(err.Error(), "--from-plain-http") || !strings.Contains(err.Error(), "--to-plain-http") || !strings.Contains(err.Error(), src) {
			t.Errorf("import %s --from-plain-http: %v; want it refused as usage, naming the source and --to-plain-http", src, err)
		}
	}
	_, err := mirror.Import(context.Background(), mirror.ImportOptions{Source: "127.0.0.1:1/stellaops/mirror-bundle:1", Registry: "127.0.0.1:1", SourcePlainHTTP: true, Client: testutil.Client(t)})
	if err == nil || strings.Contains(err.Error(), "--from-plain-http") {
		t.Errorf("import REF --from-plain-http: %v; want it taken, failing only at the registry", err)
	}
}
