package mirror_test

import (
	"context"
	"errors"
	"path/filepath"
	"testing"

	"github.com/stellaops/mirror/internal/sample"
	"github.com/stellaops/mirror/internal/testutil"
	"github.com/stellaops/mirror/pkg/errdef"
	"github.com/stellaops/mirror/pkg/mirror"
)

// create --base with a --generation not newer than the base's is a usage
// error (exit 1) that the flags alone decide: it must be refused before a
// single blob is fetched, not after the whole release was downloaded.
func TestDeltaGenerationRefusedBeforeFetching(t *testing.T) {
	host, blobGets := countingBlobGets(t)
	_, relA, advA := testutil.PushSample(t, host, sample.Spec{})
	_, relB, advB := testutil.PushSample(t, host, sample.Spec{Variant: 5, Version: "2025.11.0"})
	base := filepath.Join(t.TempDir(), "base")
	opts := createOpts(t, relA, advA, base)
	opts.Generation = 100
	if _, err := mirror.Create(context.Background(), opts); err != nil {
		t.Fatal(err)
	}
	for _, gen := range []int64{50, 100} {
		blobGets.Store(0)
		outParent := t.TempDir()
		opts := createOpts(t, relB, advB, filepath.Join(outParent, "delta"))
		opts.Base, opts.Generation = base, gen
		if _, err := mirror.Create(context.Background(), opts); !errors.Is(err, errdef.ErrUsage) {
			t.Fatalf("--generation %d on a base of 100: err = %v, want ErrUsage", gen, err)
		}
		if n := blobGets.Load(); n != 0 {
			t.Errorf("--generation %d: %d blobs fetched before it was refused", gen, n)
		}
	}
}
