package e2e

import (
	"io/fs"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/stellaops/mirror/internal/sample"
	"github.com/stellaops/mirror/internal/testutil"
)

// uploadSessions lists the upload sessions a distribution registry holds
// in its storage (each a directory under a repository's _uploads) with
// data in them: a partial upload nobody will complete.
func uploadSessions(t *testing.T, storage string) []string {
	t.Helper()
	var held []string
	err := filepath.WalkDir(storage, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.Name() == "data" && strings.Contains(path, "/_uploads/") {
			if st, err := os.Stat(path); err == nil && st.Size() > 0 {
				held = append(held, strings.TrimPrefix(path, storage))
			}
		}
		return nil
	})
	if err != nil && !os.IsNotExist(err) {
		t.Fatal(err)
	}
	return held
}

// TestImportAcrossARegistryRestart restarts the far side's registry (on
// the same port and storage, with no http.secret, as distribution's
// sample configuration) while another tool's .tar.gz streams into it.
// The import failed: `PATCH …: response status code 404: blob upload
// invalid: invalid secret: the registry lost the upload session`, exit 1,
// and the session's bytes stayed on the registry's disk. Now it goes on
// from where each upload stood: exit 0, the release tagged, no partial
// upload left behind.
func TestImportAcrossARegistryRestart(t *testing.T) {
	// A 20 MiB base layer: a stream goes up in 8 MiB chunks, so its
	// session takes two PATCHes before the PUT that completes it.
	archive, pub, rel := signedBundle(t, sample.Spec{BaseLayerSize: 20 << 20, LayerSize: 1 << 20}, ".tar")
	archive = testutil.ForeignArchive(t, archive, "bundle.tar.gz")
	reg := testutil.DistributionRestartable(t, testutil.DistributionOptions{})
	var patches atomic.Int64
	restarted := make(chan error, 1)
	host := testutil.ProxyWrapped(t, reg.Host, func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			// The second PATCH: the base layer is part-way up.
			if r.Method == http.MethodPatch && patches.Add(1) == 2 {
				restarted <- reg.Restart()
			}
			next.ServeHTTP(w, r)
		})
	})
	r := stella(t, nil, "mirror", "import", archive, "--registry", host, "--plain-http", "--key", pub, "--allow-expired")
	select {
	case err := <-restarted:
		if err != nil {
			t.Fatalf("restart: %v", err)
		}
	default:
		t.Fatalf("the registry was not restarted: the import sent %d PATCHes (exit %d)", patches.Load(), r.code)
	}
	if r.code != 0 {
		t.Fatalf("import across a registry restart: exit %d\n%s", r.code, r.stderr)
	}
	tags := testutil.Tags(t, reg.Host)
	for _, img := range rel.Images {
		if !contains(tags[img.Repository], rel.Spec.Version) {
			t.Errorf("%s holds tags %v, want %s", img.Repository, tags[img.Repository], rel.Spec.Version)
		}
	}
	if left := uploadSessions(t, reg.Storage()); len(left) > 0 {
		t.Errorf("partial uploads left on the registry's disk: %v", left)
	}
}

func contains(list []string, s string) bool {
	for _, e := range list {
		if e == s {
			return true
		}
	}
	return false
}
