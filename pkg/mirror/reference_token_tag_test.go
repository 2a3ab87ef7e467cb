package mirror_test

import (
	"context"
	"errors"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stellaops/mirror/internal/testutil"
	"github.com/stellaops/mirror/pkg/bundle"
	"github.com/stellaops/mirror/pkg/errdef"
	"github.com/stellaops/mirror/pkg/mirror"
)

// TestTokenBeforeHostOfOneLabelNotTakenForATag: a token before a host of
// one label, the repository left out (ghp_…@registry), reads as a name
// with a tag typed where its digest goes, as busybox@latest does, and
// since e5541fa was refused as such, the token printed whole (pull,
// inspect, import; a release file's line failed as a bad digest); it was
// blanked before. What is no repository name (capitals) has no tag typed
// after its @: it is refused as holding credentials, blanked (found by
// review).
func TestTokenBeforeHostOfOneLabelNotTakenForATag(t *testing.T) {
	const ref = "ghp_S3cr3tT0ken@registry"
	_, err := mirror.Pull(context.Background(), mirror.PullOptions{Reference: ref, Output: filepath.Join(t.TempDir(), "b"), Client: testutil.Client(t)})
	if !errors.Is(err, errdef.ErrUsage) || strings.Contains(err.Error(), "T0ken") || !strings.Contains(err.Error(), "credentials") {
		t.Errorf("pull ghp_SECRET@registry: %v; want it refused as holding credentials, the token blanked", err)
	}
	if _, err := bundle.ParseImageRef(ref); err == nil || strings.Contains(err.Error(), "T0ken") || !strings.Contains(err.Error(), "credentials") {
		t.Errorf("ParseImageRef(ghp_SECRET@registry): %v; want it refused as holding credentials, the token blanked", err)
	}
	if _, err := bundle.ParseImageRef("busybox@latest"); err == nil || strings.Contains(err.Error(), "credentials") {
		t.Errorf("ParseImageRef(busybox@latest): %v; want a bad digest, not credentials", err)
	}
}
