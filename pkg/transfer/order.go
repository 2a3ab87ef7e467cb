package transfer

import (
	"cmp"
	"slices"
)

// LargestFirst returns items ordered by size, largest first (ties keep
// their order). Started in this order, a fixed number of parallel transfers
// finish together instead of waiting on one large blob started last.
func LargestFirst[T any](items []T, size func(T) int64) []T {
	out := slices.Clone(items)
	slices.SortStableFunc(out, func(a, b T) int { return cmp.Compare(size(b), size(a)) })
	return out
}
