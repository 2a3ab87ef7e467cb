package testutil

import (
	"fmt"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"
)

// RestartableDistribution is a CNCF distribution registry that a test
// restarts mid-run on the same port and storage, as an operator or a
// crash restarts the far side's registry. Its configuration sets no
// http.secret, as distribution's own sample does not: each start draws a
// new one, so the state tokens of the upload sessions it handed out
// before no longer verify (404 BLOB_UPLOAD_INVALID "invalid secret"),
// though the sessions' bytes are still on its disk.
type RestartableDistribution struct {
	// Host is the registry's host:port, the same across restarts.
	Host string

	bin, dir string
	opts     DistributionOptions
	mu       sync.Mutex
	stop     func()
}

// DistributionRestartable starts a restartable distribution registry; it
// stops when the test ends.
func DistributionRestartable(t testing.TB, opts DistributionOptions) *RestartableDistribution {
	t.Helper()
	r := &RestartableDistribution{bin: RegistryBinary(t), dir: t.TempDir(), opts: opts}
	host, stop, err := StartDistribution(r.bin, r.dir, opts)
	if err != nil {
		t.Fatal(err)
	}
	r.Host, r.stop = host, stop
	t.Cleanup(func() {
		r.mu.Lock()
		defer r.mu.Unlock()
		r.stop()
	})
	return r
}

// Storage is the registry's storage directory (its upload sessions are
// under docker/registry/v2/repositories/REPO/_uploads).
func (r *RestartableDistribution) Storage() string {
	if r.opts.Storage != "" {
		return r.opts.Storage
	}
	return filepath.Join(r.dir, "data")
}

// Restart kills the registry (SIGKILL: requests in flight break off) and
// starts it again on the same port and storage, returning once it
// answers.
func (r *RestartableDistribution) Restart() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.restart()
}

// RestartWith restarts the registry as Restart does, with other options
// (read-only, for a maintenance window) on the same storage.
func (r *RestartableDistribution) RestartWith(opts DistributionOptions) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.opts = opts
	return r.restart()
}

// GarbageCollect stops the registry, runs its garbage collector on its
// storage (registry garbage-collect --delete-untagged, as an operator
// reclaiming old releases), and starts it again.
func (r *RestartableDistribution) GarbageCollect() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.stop()
	r.stop = func() {}
	out, err := exec.Command(r.bin, "garbage-collect", "--delete-untagged", filepath.Join(r.dir, "config.yml")).CombinedOutput()
	if err != nil {
		return fmt.Errorf("garbage-collect: %w: %s", err, out)
	}
	return r.restart()
}

func (r *RestartableDistribution) restart() error {
	r.stop()
	_, stop, err := startDistribution(r.bin, r.dir, r.Host, r.opts)
	if err != nil {
		r.stop = func() {}
		return err
	}
	r.stop = stop
	return nil
}
