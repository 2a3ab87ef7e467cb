package mirror

import "testing"

// SetMaxBundleDocs lowers, for one test, the bound on the bytes of a
// release's manifests, which is a packed bundle's head bound (128 MiB).
func SetMaxBundleDocs(t testing.TB, n int64) {
	old := maxBundleDocs
	maxBundleDocs = n
	t.Cleanup(func() { maxBundleDocs = old })
}
