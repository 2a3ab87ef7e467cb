package mirror

import "testing"

// SetMaxReleaseDocs lowers, for one test, the bound on the bytes of a
// release's manifests, which is a packed bundle's head bound (128 MiB).
func SetMaxReleaseDocs(t testing.TB, n int64) {
	old := maxReleaseDocs
	maxReleaseDocs = n
	t.Cleanup(func() { maxReleaseDocs = old })
}
