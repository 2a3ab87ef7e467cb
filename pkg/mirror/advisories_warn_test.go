package mirror_test

import (
	"bytes"
	"context"
	"log/slog"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stellaops/mirror/internal/sample"
	"github.com/stellaops/mirror/internal/testutil"
	"github.com/stellaops/mirror/pkg/mirror"
)

// TestImportWarnsAdvisoriesNotWritten: an import without --advisories-dir
// (the plan's `load.sh BUNDLE REGISTRY`, as written) left the release's
// advisories only as layers in the bundle repository and said nothing of
// them; the operator expected them loaded for the scanner. It now warns,
// once the import succeeded; with a directory, it does not.
func TestImportWarnsAdvisoriesNotWritten(t *testing.T) {
	s := newSignedSample(t, sample.Spec{}, 0)
	for _, dir := range []string{"", filepath.Join(t.TempDir(), "advisories")} {
		var logs bytes.Buffer
		opts := importOpts(t, s.dir, testutil.Registry(t), s.pub)
		opts.AdvisoriesDir = dir
		opts.Logger = slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelWarn}))
		if _, err := mirror.Import(context.Background(), opts); err != nil {
			t.Fatal(err)
		}
		warned := strings.Contains(logs.String(), "advisories not written to disk") && strings.Contains(logs.String(), "--advisories-dir")
		if warned != (dir == "") {
			t.Errorf("--advisories-dir %q: warned %v:\n%s", dir, warned, logs.String())
		}
	}
}
