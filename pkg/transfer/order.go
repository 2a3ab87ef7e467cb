package transfer

import (
	"cmp"
	"context"
	"slices"
	"sync"

	"github.com/stellaops/mirror/internal/errgroup"
	"github.com/stellaops/mirror/pkg/errdef"
)

// LargestFirst returns items ordered by size, largest first (ties keep
// their order). Started in this order, a fixed number of parallel transfers
// finish together instead of waiting on one large blob started last.
func LargestFirst[T any](items []T, size func(T) int64) []T {
	out := slices.Clone(items)
	slices.SortStableFunc(out, func(a, b T) int { return cmp.Compare(size(b), size(a)) })
	return out
}

// SmallItem is the size under which an item's cost is its round trips
// rather than its bytes: a blob of 1 MiB takes about one round trip's time
// to send at 500 MiB/s.
const SmallItem = 1 << 20

// LargestFirstWithSmall runs do on every item, limit at once in
// LargestFirst's order, and beside them limit/4 more workers (none under
// a limit of 4) that take the smallest item left while it is under
// SmallItem. The large items, started first, finish together; the small
// ones go alongside them, not after them where their round trips would be
// all that is left in flight (the last 0.1 s of an 800 MiB sync on
// 127.0.0.1, its 22 small blobs after the 8 large). The small workers are
// beside the limit, not carved out of it: under load each small blob takes
// a registry 0.1–0.3 s, and large items held back for them ran alone at
// the end. Once do fails, no item is started; the first error is
// returned.
func LargestFirstWithSmall[T any](ctx context.Context, items []T, size func(T) int64, limit int, do func(context.Context, T) error) error {
	order := LargestFirst(items, size)
	g, ctx := errgroup.WithContext(ctx)
	var (
		mu          sync.Mutex
		front, back = 0, len(order) // order[front:back] is left
		failed      bool
	)
	take := func(small bool) (item T, ok bool) {
		mu.Lock()
		defer mu.Unlock()
		switch {
		case failed || front == back:
			return item, false
		case small:
			if size(order[back-1]) >= SmallItem {
				return item, false
			}
			back--
			return order[back], true
		default:
			front++
			return order[front-1], true
		}
	}
	worker := func(small bool) func() error {
		return func() (err error) {
			defer func() {
				if err != nil {
					mu.Lock()
					failed = true
					mu.Unlock()
				}
			}()
			// A panic of do is this worker's error: errgroup lets it
			// end the process with exit code 2, a digest mismatch's.
			defer errdef.Recover(&err)
			for {
				item, ok := take(small)
				if !ok {
					return nil
				}
				if err := do(ctx, item); err != nil {
					return err
				}
			}
		}
	}
	for range min(max(limit, 1), len(order)) {
		g.Go(worker(false))
	}
	for range SmallWorkers(limit) {
		g.Go(worker(true))
	}
	return g.Wait()
}

// SmallWorkers is how many workers LargestFirstWithSmall runs beside a
// limit for small items: limit/4, none under 4. At most limit +
// SmallWorkers(limit) items are in flight at once.
func SmallWorkers(limit int) int { return limit / 4 }
