package mirror_test

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stellaops/mirror/internal/sample"
	"github.com/stellaops/mirror/internal/testutil"
	"github.com/stellaops/mirror/pkg/errdef"
	"github.com/stellaops/mirror/pkg/mirror"
)

// TestDeltaOnStaleBase: the far side holds A and then B (generation 101);
// a newer release is made as a delta on A, from an inventory or bundle
// older than B, so it too gets generation 101. Its import is refused
// (exit 8) before anything is written, and the refusal says why the
// release is not newer: its base is older than what the registry holds,
// and the delta must be made again from a fresh inventory. Only offering
// --allow-rollback, for what the operator knows to be a newer release,
// told them nothing of the cause.
func TestDeltaOnStaleBase(t *testing.T) {
	t.Parallel()
	f := newDeltaFixture(t)
	ctx := context.Background()
	_, deltaB := f.create(t, f.a.dir, trustKeys(f.a.pub))
	if _, err := mirror.Import(ctx, importOpts(t, deltaB, f.target, f.a.pub)); err != nil {
		t.Fatal(err)
	}
	_, releaseC, _ := testutil.PushSample(t, f.source, sample.Spec{Variant: 7, Version: "2025.12.0", BaseLayerSize: 8 << 20, LayerSize: 8 << 20})
	dirC := filepath.Join(t.TempDir(), "c")
	opts := createOpts(t, releaseC, f.advisoriesB, dirC)
	opts.Base, opts.BaseTrust = f.a.dir, trustKeys(f.a.pub)
	if _, err := mirror.Create(ctx, opts); err != nil {
		t.Fatal(err)
	}
	sign(t, dirC, f.a.priv)
	before := testutil.Tags(t, f.target)
	_, err := mirror.Import(ctx, importOpts(t, dirC, f.target, f.a.pub))
	if !errors.Is(err, errdef.ErrGeneration) {
		t.Fatalf("delta on a stale base: %v", err)
	}
	a := readManifest(t, f.a.dir)
	for _, want := range []string{"a delta on " + a.BundleID, "fresh inventory"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("refusal does not say %q: %v", want, err)
		}
	}
	if after := testutil.Tags(t, f.target); fmt.Sprint(after) != fmt.Sprint(before) {
		t.Errorf("tags before %v, after %v", before, after)
	}
}
