package mirror_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stellaops/mirror/internal/sample"
	"github.com/stellaops/mirror/internal/testutil"
	"github.com/stellaops/mirror/pkg/errdef"
	"github.com/stellaops/mirror/pkg/mirror"
)

// TestDeltaBaseNeedsTrust: a base bundle sets the signed delta's
// generation and what it leaves out, so create reads one only when its
// signer's key verifies it. Here whoever could write the base directory
// (or move the tag of a base in a registry) put there a well-formed bundle
// of the same release at generation 4000000000, signed with a key of
// their own. Without --base-key create used to take it: the delta, signed
// by the release signer, carried generation 4000000001 and imported over
// the far side's real base (its blobs are all there), every later bundle
// then refused as older. Now create refuses a base with no trusted key
// before any blob is fetched (exit 1, naming --base-key), and with the
// release signer's key refuses the forged one (exit 5).
func TestDeltaBaseNeedsTrust(t *testing.T) {
	ctx := context.Background()
	base := newSignedSample(t, sample.Spec{}, 4000000000) // signed with a key of its own
	_, releaseSigner := testKeys(t, "release")

	host, blobGets := countingBlobGets(t)
	_, relB, advB := testutil.PushSample(t, host, sample.Spec{Variant: 5, Version: "2025.11.0"})
	out := filepath.Join(t.TempDir(), "delta")
	opts := createOpts(t, relB, advB, out)
	opts.Base = base.dir
	res, err := mirror.Create(ctx, opts)
	if !errors.Is(err, errdef.ErrUsage) || !strings.Contains(err.Error(), "--base "+base.dir+": ") || !strings.Contains(err.Error(), "--base-key") {
		gen := int64(0)
		if res != nil {
			gen = res.Manifest.MirrorGeneration
		}
		t.Fatalf("create --base without --base-key: err = %v (delta generation %d), want a usage error naming --base-key", err, gen)
	}
	if n := blobGets.Load(); n != 0 {
		t.Errorf("%d blobs fetched before the missing --base-key was refused", n)
	}
	if _, err := os.Stat(out); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("refused create left %s: %v", out, err)
	}

	opts.BaseTrust = trustKeys(releaseSigner)
	if _, err := mirror.Create(ctx, opts); !errors.Is(err, errdef.ErrSignature) || !strings.Contains(err.Error(), "--base "+base.dir+": ") {
		t.Fatalf("create --base a raised base with --base-key: %v, want the signature refused (exit 5)", err)
	}
	if _, err := os.Stat(out); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("refused create left %s: %v", out, err)
	}
}
