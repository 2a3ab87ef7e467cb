package mirror

import (
	"context"
	"errors"
	"math"
	"strconv"
	"strings"
	"testing"

	"github.com/stellaops/mirror/pkg/errdef"
)

// TestInventoryBaseGenerationBounds: a signed inventory whose newest bundle
// has a generation no delta can follow (the largest int64: plus one wraps)
// or none a bundle has (below 1) is refused as a base, naming the
// inventory and the generation; the generations around them are read.
func TestInventoryBaseGenerationBounds(t *testing.T) {
	ctx := context.Background()
	signer := newInventorySigner(t)
	for _, c := range []struct {
		generation int64
		wantErr    error
	}{
		{math.MaxInt64, errdef.ErrGeneration},
		{math.MaxInt64 - 1, nil},
		{1, nil},
		{0, errdef.ErrMalformed},
		{-1, errdef.ErrMalformed},
		{math.MinInt64, errdef.ErrMalformed},
	} {
		inv := signer.write(oneBundleInventory(t, c.generation))
		bi, err := loadBase(ctx, nil, inv, signer.trust, nil)
		if c.wantErr == nil {
			if err != nil || bi.base.Generation != c.generation {
				t.Errorf("generation %d: %+v, %v", c.generation, bi, err)
			}
			continue
		}
		if !errors.Is(err, c.wantErr) || bi != nil || !strings.HasPrefix(err.Error(), "--base "+inv+": its newest bundle b has generation "+strconv.FormatInt(c.generation, 10)+", ") {
			t.Errorf("generation %d: %+v, %v; want %v", c.generation, bi, err, c.wantErr)
		}
	}
}
