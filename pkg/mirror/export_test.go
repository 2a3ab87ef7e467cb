package mirror

import (
	"context"
	"testing"
	"time"

	"github.com/stellaops/mirror/pkg/remote"
	"github.com/stellaops/mirror/pkg/transfer"
)

// StoreCatalog stores catalog.json (data) and its envelope in repo of the
// registry at host as catalog does: an artifact tagged "catalog" and a
// DSSE referrer of it.
func StoreCatalog(ctx context.Context, client *remote.Client, host, repo string, data, env []byte, now time.Time) error {
	_, err := storeCatalog(ctx, newTarget(host, client, transfer.Options{}), repo, data, env, now)
	return err
}

// SetMaxBundleDocs lowers, for one test, the bound on the bytes of a
// release's manifests, which is a packed bundle's head bound (128 MiB).
func SetMaxBundleDocs(t testing.TB, n int64) {
	old := maxBundleDocs
	maxBundleDocs = n
	t.Cleanup(func() { maxBundleDocs = old })
}

// SetMaxChecksums lowers, for one test, the bound on a bundle's
// SHA256SUMS (4 MiB) that create refuses a release past.
func SetMaxChecksums(t testing.TB, n int64) {
	old := maxChecksums
	maxChecksums = n
	t.Cleanup(func() { maxChecksums = old })
}

// SetCosignLookupWaitHook calls hook, for one test, when a create's cosign
// tag lookup starts (+1) and stops (-1) waiting for the create's bound.
func SetCosignLookupWaitHook(t testing.TB, hook func(delta int)) {
	old := lookupWaitHook
	lookupWaitHook = hook
	t.Cleanup(func() { lookupWaitHook = old })
}

// SetMaxDocsAhead lowers, for one test, the bound on the bytes of a
// registry bundle's documents fetched before its signature is weighed
// (16 MiB), and calls done each time such a fetch ends.
func SetMaxDocsAhead(t testing.TB, n int64, done func()) {
	oldMax, oldDone := maxDocsAhead, docsAheadDone
	maxDocsAhead, docsAheadDone = n, done
	t.Cleanup(func() { maxDocsAhead, docsAheadDone = oldMax, oldDone })
}

// SetAdvisoryRenamedHook calls hook, for one test, once each advisory an
// import writes is renamed into place; an error it returns ends the
// import there, as a crash would.
func SetAdvisoryRenamedHook(t testing.TB, hook func(name string) error) {
	old := advisoryRenamedHook
	advisoryRenamedHook = hook
	t.Cleanup(func() { advisoryRenamedHook = old })
}

// SetSyncDirHook runs hook, for one test, in place of the sync of the
// directory a file was just placed in (placeFile): keygen's and others'.
func SetSyncDirHook(t testing.TB, hook func(dir string) error) {
	old := syncDir
	syncDir = hook
	t.Cleanup(func() { syncDir = old })
}
