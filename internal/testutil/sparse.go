package testutil

import (
	"os"
	"runtime"
	"testing"
)

// SparseFile makes path a regular file of size zero bytes that takes no
// room on disk: a reader that reads it whole allocates size bytes.
func SparseFile(t testing.TB, path string, size int64) {
	t.Helper()
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if err := f.Truncate(size); err != nil {
		t.Fatal(err)
	}
}

// Allocated returns the bytes the process allocated while fn ran (others'
// allocations too: a bound, not a count).
func Allocated(fn func()) uint64 {
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	fn()
	runtime.ReadMemStats(&after)
	return after.TotalAlloc - before.TotalAlloc
}
