package mirror_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stellaops/mirror/internal/sample"
	"github.com/stellaops/mirror/internal/testutil"
	"github.com/stellaops/mirror/pkg/mirror"
)

// An advisory that cannot be moved into place (a directory holds its
// name in --advisories-dir) fails the import before any tag is written
// and before any advisory is: the names were only tried once the registry
// held and tagged everything, so the import failed with the release tagged
// and the advisories that came before written.
func TestAdvisoryThatCannotLandFailsEarly(t *testing.T) {
	s := newSignedSample(t, sample.Spec{}, 0)
	m := readManifest(t, s.dir)
	if len(m.Advisories) < 2 {
		t.Fatalf("%d advisories, want 2", len(m.Advisories))
	}
	last := m.Advisories[len(m.Advisories)-1]
	for _, src := range []string{s.dir, s.foreign(t, ".tar.gz")} {
		t.Run(filepath.Base(src), func(t *testing.T) {
			target := testutil.Registry(t)
			opts := importOpts(t, src, target, s.pub)
			opts.AdvisoriesDir = t.TempDir()
			blocker := filepath.Join(opts.AdvisoriesDir, strings.TrimPrefix(last.Path, "advisories/"))
			if err := os.MkdirAll(filepath.Join(blocker, "x"), 0o755); err != nil {
				t.Fatal(err)
			}
			if _, err := mirror.Import(context.Background(), opts); err == nil {
				t.Fatal("imported")
			}
			if tags := testutil.Tags(t, target); len(tags) != 0 {
				t.Errorf("a failed import tagged %v", tags)
			}
			left, _ := os.ReadDir(opts.AdvisoriesDir)
			for _, e := range left {
				if e.Name() != filepath.Base(blocker) {
					t.Errorf("a failed import left %s", e.Name())
				}
			}
		})
	}
}
