package mirror_test

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/stellaops/mirror/internal/sample"
	"github.com/stellaops/mirror/internal/testutil"
	"github.com/stellaops/mirror/pkg/mirror"
)

// TestInspectDeltaTotalsCountWhatItCarries: inspect of a delta bundle
// totalled "N unique blobs, X KiB" over the blobs its base holds too,
// which the delta omits: the size of the full release, not of what the
// bundle carries (as verify said before it counted only what it hashed).
// The totals count the blobs the bundle carries, and the omitted ones
// apart.
func TestInspectDeltaTotalsCountWhatItCarries(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	a := newSignedSample(t, sample.Spec{}, 100)
	_, releaseFile, advisories := testutil.PushSample(t, a.source, sample.Spec{Version: "2025.11.0"})
	dir := filepath.Join(t.TempDir(), "delta")
	opts := createOpts(t, releaseFile, advisories, dir)
	opts.Base, opts.BaseTrust = a.dir, trustKeys(a.pub)
	if _, err := mirror.Create(ctx, opts); err != nil {
		t.Fatal(err)
	}
	omitted := len(readManifest(t, dir).Base.Omitted)
	if omitted == 0 {
		t.Fatal("the delta omits nothing: the test needs it to")
	}
	entries, err := os.ReadDir(filepath.Join(dir, "blobs", "sha256"))
	if err != nil {
		t.Fatal(err)
	}
	var carried int64
	for _, e := range entries {
		info, err := e.Info()
		if err != nil {
			t.Fatal(err)
		}
		carried += info.Size()
	}
	res, err := mirror.Inspect(ctx, dir, fixedTime.Add(1e9))
	if err != nil {
		t.Fatal(err)
	}
	if tot := res.Totals; tot.Blobs > len(entries) || tot.Bytes > carried {
		t.Errorf("totals %d blobs, %d bytes, where the delta carries %d blobs, %d bytes", tot.Blobs, tot.Bytes, len(entries), carried)
	}
	if res.Totals.Omitted != omitted {
		t.Errorf("totals.omitted %d, the delta omits %d", res.Totals.Omitted, omitted)
	}
}
