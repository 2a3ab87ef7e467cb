package transfer_test

import (
	"context"
	"errors"
	"runtime"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

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

// TestSmallItemsGoBesideLargeOnes holds every large item until all the
// small ones are done: with LargestFirst alone and a limit of 2, the small
// items would wait for a large one to finish, and none would.
func TestSmallItemsGoBesideLargeOnes(t *testing.T) {
	var items []int64
	for range 4 {
		items = append(items, 100<<20)
	}
	for i := range 9 {
		items = append(items, int64(i*1000))
	}
	smallDone := make(chan struct{})
	var smallLeft atomic.Int64
	smallLeft.Store(9)
	var mu sync.Mutex
	ran := map[int64]int{}
	var inFlight, most, large, mostLarge int
	err := transfer.LargestFirstWithSmall(context.Background(), items, func(n int64) int64 { return n }, 4, func(ctx context.Context, n int64) error {
		mu.Lock()
		ran[n]++
		inFlight++
		most = max(most, inFlight)
		if n >= transfer.SmallItem {
			large++
			mostLarge = max(mostLarge, large)
		}
		mu.Unlock()
		defer func() {
			mu.Lock()
			inFlight--
			if n >= transfer.SmallItem {
				large--
			}
			mu.Unlock()
		}()
		if n >= transfer.SmallItem {
			select {
			case <-smallDone:
				return nil
			case <-time.After(10 * time.Second):
				return errors.New("a large item waited 10 s: the small ones did not go beside it")
			}
		}
		if smallLeft.Add(-1) == 0 {
			close(smallDone)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(ran) != 10 || ran[100<<20] != 4 {
		t.Fatalf("ran %v, want every item once", ran)
	}
	for n, times := range ran {
		if n < transfer.SmallItem && times != 1 {
			t.Fatalf("item %d ran %d times", n, times)
		}
	}
	if most > 5 || mostLarge > 4 {
		t.Fatalf("%d items at once (%d large), want at most 4 + 4/4 and 4 large", most, mostLarge)
	}
}

// TestSmallWorkersOnlyFromFour: under a limit of 4 nothing goes beside
// the limit, whatever the sizes.
func TestSmallWorkersOnlyFromFour(t *testing.T) {
	for limit := 1; limit <= 3; limit++ {
		var mu sync.Mutex
		var inFlight, most int
		items := make([]int64, 20)
		err := transfer.LargestFirstWithSmall(context.Background(), items, func(n int64) int64 { return n }, limit, func(context.Context, int64) error {
			mu.Lock()
			inFlight++
			most = max(most, inFlight)
			mu.Unlock()
			runtime.Gosched()
			mu.Lock()
			inFlight--
			mu.Unlock()
			return nil
		})
		if err != nil || most > limit {
			t.Fatalf("limit %d: %d at once, err %v", limit, most, err)
		}
	}
}

// TestFirstErrorStopsTheRest: once an item fails, no other is started, and
// its error is the one returned.
func TestFirstErrorStopsTheRest(t *testing.T) {
	items := make([]int64, 100)
	for i := range items {
		items[i] = int64(i) << 20
	}
	bad := errors.New("blob 99 refused")
	var started atomic.Int64
	err := transfer.LargestFirstWithSmall(context.Background(), items, func(n int64) int64 { return n }, 1, func(ctx context.Context, n int64) error {
		started.Add(1)
		if n == 99<<20 {
			return bad
		}
		return nil
	})
	if !errors.Is(err, bad) || started.Load() != 1 {
		t.Fatalf("err %v after %d started, want %v after the largest alone", err, started.Load(), bad)
	}
}
