package mirror

import (
	"errors"
	"strings"
	"testing"

	"github.com/stellaops/mirror/pkg/errdef"
	"github.com/stellaops/mirror/pkg/layout"
)

// Manifests that stay under the bound by themselves, but not with
// manifest.json and SHA256SUMS, which a packed bundle's head holds too,
// are refused before any blob is fetched.
func TestReleaseFitCountsTheWholeHead(t *testing.T) {
	f := releaseFit{file: "release.yaml", blobs: 1, docBytes: layout.MaxHeadBytes - 100}
	err := f.check()
	if !errors.Is(err, errdef.ErrUsage) || !strings.Contains(err.Error(), "release.yaml: its manifests") {
		t.Fatalf("err = %v, want a usage error naming the release and its manifests", err)
	}
	f.docBytes = layout.MaxHeadBytes - 64<<10
	if err := f.check(); err != nil {
		t.Fatalf("a head with room left: %v", err)
	}
}
