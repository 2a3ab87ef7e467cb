package mirror_test

import (
	"context"
	"errors"
	"math"
	"path/filepath"
	"strings"
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
	priv, pub := testKeys(t, "signer")
	sign(t, base, priv)
	for _, gen := range []int64{50, 100} {
		blobGets.Store(0)
		outParent := t.TempDir()
		opts := createOpts(t, relB, advB, filepath.Join(outParent, "delta"))
		opts.Base, opts.BaseTrust, opts.Generation = base, trustKeys(pub), gen
		if _, err := mirror.Create(context.Background(), opts); !errors.Is(err, errdef.ErrUsage) || !strings.Contains(err.Error(), "is not newer than the base's 100") {
			t.Fatalf("--generation %d on a base of 100: err = %v, want ErrUsage", gen, err)
		}
		if n := blobGets.Load(); n != 0 {
			t.Errorf("--generation %d: %d blobs fetched before it was refused", gen, n)
		}
	}
}

// A signed inventory whose newest bundle claims the largest generation
// there is leaves no generation for a delta on it: its base's plus one
// wraps. create refuses it (exit 8: nothing newer can follow) in one line
// that names the inventory and says so, before a blob is fetched (it used
// to fetch the whole release, then refuse a manifest whose generation was
// negative, naming no inventory).
func TestDeltaOnInventoryOfLargestGeneration(t *testing.T) {
	ctx := context.Background()
	a := newSignedSample(t, sample.Spec{}, math.MaxInt64)
	target := testutil.Registry(t)
	if _, err := mirror.Import(ctx, importOpts(t, a.dir, target, a.pub)); err != nil {
		t.Fatal(err)
	}
	inv := filepath.Join(t.TempDir(), "inventory.json")
	if _, err := mirror.Inventory(ctx, mirror.InventoryOptions{Registry: target, Output: inv, Key: a.priv, Password: testPass, Trust: trustKeys(a.pub), Client: testutil.Client(t)}); err != nil {
		t.Fatal(err)
	}
	host, blobGets := countingBlobGets(t)
	_, relB, advB := testutil.PushSample(t, host, sample.Spec{Variant: 5, Version: "2025.11.0"})
	opts := createOpts(t, relB, advB, filepath.Join(t.TempDir(), "delta"))
	opts.Base, opts.BaseTrust = inv, trustKeys(a.pub)
	_, err := mirror.Create(ctx, opts)
	if !errors.Is(err, errdef.ErrGeneration) || !strings.Contains(err.Error(), "--base "+inv+": ") ||
		!strings.Contains(err.Error(), "generation 9223372036854775807, the largest there is") || strings.ContainsAny(err.Error(), "\n\r") {
		t.Errorf("delta on an inventory of generation MaxInt64: %v", err)
	}
	if n := blobGets.Load(); n != 0 {
		t.Errorf("%d blobs fetched before it was refused", n)
	}
	// The bundle itself as the base: the same, naming it.
	opts.Base, opts.BaseTrust = a.dir, trustKeys(a.pub)
	if _, err := mirror.Create(ctx, opts); !errors.Is(err, errdef.ErrGeneration) || !strings.Contains(err.Error(), "--base "+a.dir+": bundle ") ||
		!strings.Contains(err.Error(), "generation 9223372036854775807, the largest there is") {
		t.Errorf("delta on a bundle of generation MaxInt64: %v", err)
	}
	if n := blobGets.Load(); n != 0 {
		t.Errorf("%d blobs fetched before it was refused", n)
	}
}
