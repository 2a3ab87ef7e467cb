package mirror_test

import (
	"context"
	"testing"

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
	_, dir, omitted, blobs, carried := newDeltaBundle(t)
	res, err := mirror.Inspect(ctx, dir, fixedTime.Add(1e9))
	if err != nil {
		t.Fatal(err)
	}
	if tot := res.Totals; tot.Blobs > blobs || tot.Bytes > carried {
		t.Errorf("totals %d blobs, %d bytes, where the delta carries %d blobs, %d bytes", tot.Blobs, tot.Bytes, blobs, carried)
	}
	if res.Totals.Omitted != omitted {
		t.Errorf("totals.omitted %d, the delta omits %d", res.Totals.Omitted, omitted)
	}
}
