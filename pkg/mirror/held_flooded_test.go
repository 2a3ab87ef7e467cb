package mirror_test

import (
	"context"
	"errors"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stellaops/mirror/internal/sample"
	"github.com/stellaops/mirror/internal/testutil"
	"github.com/stellaops/mirror/pkg/bundle"
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
	a := newSignedSample(t, sample.Spec{}, 100)
	host := testutil.Registry(t)
	repo := host + "/" + bundle.DefaultBundleRepository
	if _, err := mirror.Import(ctx, importOpts(t, a.dir, host, a.pub)); err != nil {
		t.Fatal(err)
	}
	bundleOf := func(version string, variant uint64, generation int64) string {
		_, releaseFile, advisories := testutil.PushSample(t, a.source, sample.Spec{Version: version, Variant: variant})
		dir := filepath.Join(t.TempDir(), version)
		opts := createOpts(t, releaseFile, advisories, dir)
		opts.Generation = generation
		if _, err := mirror.Create(ctx, opts); err != nil {
			t.Fatal(err)
		}
		sign(t, dir, a.priv)
		return dir
	}
	b := bundleOf("2025.12.0", 7, 102)
	c := bundleOf("2025.11.0", 5, 101)
	placed, err := mirror.Import(ctx, importOpts(t, b, host, a.pub))
	if err != nil {
		t.Fatal(err)
	}
	r, err := testutil.Client(t).Repository(repo)
	if err != nil {
		t.Fatal(err)
	}
	root, err := r.Resolve(ctx, placed.Root.String())
	if err != nil {
		t.Fatal(err)
	}
	attachJunk(t, r, root, transfer.MaxReferrers+1, false)
	_, err = mirror.Import(ctx, importOpts(t, c, host, a.pub))
	t.Logf("import of C: %v", err)
	if err == nil || errors.Is(err, errdef.ErrGeneration) && !strings.Contains(err.Error(), "generation 102") {
		t.Errorf("import of C (101) with B (102) held, B's root flooded with referrers: %v; want it refused", err)
	} else if !errors.Is(err, errdef.ErrGeneration) && !strings.Contains(err.Error(), placed.Root.String()) {
		t.Errorf("import of C: %v; want a failure naming B's root %s", err, placed.Root)
	}
	if d, err := r.Resolve(ctx, "2025.11.0"); err == nil {
		t.Fatalf("C was placed over B: tag 2025.11.0 names %s", d.Digest)
	}
}
