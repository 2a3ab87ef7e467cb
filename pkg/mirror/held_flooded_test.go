package mirror_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/stellaops/mirror/internal/testutil"
	"github.com/stellaops/mirror/pkg/errdef"
	"github.com/stellaops/mirror/pkg/mirror"
	"github.com/stellaops/mirror/pkg/transfer"
)

// TestHeldRootFloodedWithReferrers: the far side holds A (generation 100)
// and B (102). Someone with push rights, where tags are immutable,
// attaches more referrers to B's root than a reader lists
// (transfer.MaxReferrers). The rollback check refused B's listing as
// malformed, and so passed over B as a root that does not verify: A was
// the newest held, and C (101), older than B, was imported: a rollback.
// A root whose referrers are too many to read is not checked, and the
// check now fails closed on it, naming B's root, as it does for a root
// whose signatures it left unread; C is not placed.
func TestHeldRootFloodedWithReferrers(t *testing.T) {
	ctx := context.Background()
	host := testutil.Registry(t)
	a, c, r, root := heldNewerThanC(t, host)
	attachJunk(t, r, root, transfer.MaxReferrers+1, false)
	_, err := mirror.Import(ctx, importOpts(t, c, host, a.pub))
	t.Logf("import of C: %v", err)
	if err == nil || errors.Is(err, errdef.ErrGeneration) && !strings.Contains(err.Error(), "generation 102") {
		t.Errorf("import of C (101) with B (102) held, B's root flooded with referrers: %v; want it refused", err)
	} else if !errors.Is(err, errdef.ErrGeneration) && !strings.Contains(err.Error(), root.Digest.String()) {
		t.Errorf("import of C: %v; want a failure naming B's root %s", err, root.Digest)
	}
	if d, err := r.Resolve(ctx, "2025.11.0"); err == nil {
		t.Fatalf("C was placed over B: tag 2025.11.0 names %s", d.Digest)
	}
}
