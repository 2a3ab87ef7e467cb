package transfer_test

import (
	"slices"
	"testing"

	"github.com/stellaops/mirror/pkg/transfer"
)

func TestLargestFirst(t *testing.T) {
	type blob struct {
		name string
		size int64
	}
	in := []blob{{"a", 3}, {"b", 10}, {"c", 3}, {"d", 0}, {"e", 7}}
	got := transfer.LargestFirst(in, func(b blob) int64 { return b.size })
	want := []blob{{"b", 10}, {"e", 7}, {"a", 3}, {"c", 3}, {"d", 0}}
	if !slices.Equal(got, want) {
		t.Fatalf("LargestFirst = %v, want %v", got, want)
	}
	if in[0].name != "a" || in[1].name != "b" {
		t.Fatalf("LargestFirst reordered its input: %v", in)
	}
}
