package transfer_test

import (
	"bytes"
	"fmt"
	"io/fs"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/stellaops/mirror/internal/testutil"
	"github.com/stellaops/mirror/pkg/transfer"
)

// The far side's registry is restarted mid-upload (a crash, an upgrade):
// the distribution registry, with no http.secret set as its sample
// configuration sets none, draws a new secret, and refuses the state token
// of every session it handed out before (PATCH answered 404
// BLOB_UPLOAD_INVALID "invalid secret"), though the session's bytes are on
// its disk and its status answer (GET) gives a fresh token. A stream's
// upload failed with "the registry lost the upload session", and a blob
// read at random started over from its first byte, the session's bytes
// left on the registry's disk. Now both go on from the registry's offset:
// no byte is sent twice.
func TestUploadAcrossARegistryRestart(t *testing.T) {
	transfer.SetAtChunkSize(t, 2<<20)
	for name, push := range pushers {
		t.Run(name, func(t *testing.T) {
			reg := testutil.DistributionRestartable(t, testutil.DistributionOptions{})
			var patches, taken atomic.Int64
			restarted := make(chan error, 1)
			host := testutil.ProxyWrapped(t, reg.Host, func(next http.Handler) http.Handler {
				return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
					upload := strings.Contains(r.URL.Path, "/blobs/uploads/") && (r.Method == http.MethodPatch || r.Method == http.MethodPut)
					if upload && r.Method == http.MethodPatch && patches.Add(1) == 2 {
						restarted <- reg.Restart()
					}
					sw := &statusWriter{ResponseWriter: w}
					next.ServeHTTP(sw, r)
					if upload && (sw.status == http.StatusAccepted || sw.status == http.StatusCreated) {
						taken.Add(r.ContentLength)
					}
				})
			})
			repo := "stellaops/restarted-" + strings.ToLower(name)
			u := chunkedUploader(t, host+"/"+repo)
			data := randomBytes(5<<20+99, 63)
			desc := blobDesc(data)
			if err := push(t, u, desc, data); err != nil {
				t.Fatalf("%s across a registry restart: %v", name, err)
			}
			if err := <-restarted; err != nil {
				t.Fatalf("restart: %v", err)
			}
			if !holds(t, host, repo, desc, data) {
				t.Fatalf("registry does not hold %s", desc.Digest)
			}
			if n := taken.Load(); n != desc.Size {
				t.Errorf("the registry took %d bytes of upload requests for a blob of %d: want each byte once", n, desc.Size)
			}
		})
	}
}

// An upload fails (its content does not verify) just after the registry
// was restarted: its cancel carries the state token of the registry's run
// before, refused 404 "invalid secret", and the session's bytes stayed on
// the registry's disk until its purge (a week). Now the cancel asks the
// session's status for a fresh token, and the session is gone.
func TestCancelAcrossARegistryRestart(t *testing.T) {
	reg := testutil.DistributionRestartable(t, testutil.DistributionOptions{})
	var deletes atomic.Int64
	restarted := make(chan error, 1)
	host := testutil.ProxyWrapped(t, reg.Host, func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.Method == http.MethodDelete && strings.Contains(r.URL.Path, "/blobs/uploads/") && deletes.Add(1) == 1 {
				restarted <- reg.Restart()
			}
			next.ServeHTTP(w, r)
		})
	})
	u := chunkedUploader(t, host+"/stellaops/cancelled")
	data := randomBytes(5<<20+99, 65)
	desc := blobDesc(data)
	desc.Digest = blobDesc(data[1:]).Digest // another content's: fails at its end
	if err := u.Push(t.Context(), desc, bytes.NewReader(data)); err == nil {
		t.Fatal("a blob that does not match its digest was uploaded")
	}
	if err := <-restarted; err != nil {
		t.Fatalf("restart: %v", err)
	}
	var held []string
	filepath.WalkDir(reg.Storage(), func(path string, d fs.DirEntry, err error) error {
		if err == nil && d.Name() == "data" && strings.Contains(path, "/_uploads/") {
			held = append(held, path)
		}
		return nil
	})
	if len(held) > 0 {
		t.Errorf("the failed upload's session is still on the registry's disk: %v", held)
	}
}

// The far side's host crashes mid-upload: its registry comes back (a new
// secret: the state token is refused 404 "invalid secret") holding less of
// the session than it had taken, the bytes it had not yet written out lost
// with the crash (here its data file cut to 1 MiB of the 2 MiB the first
// PATCH sent). A source read at random starts the blob over in a fresh
// session, as it did before uploads went on across a restart; since, the
// status answer's short offset failed the upload: "registry holds 1048576
// bytes of the upload, expected 2097152 to 4194304".
func TestUploadAcrossARegistryCrashThatLostBytes(t *testing.T) {
	transfer.SetAtChunkSize(t, 2<<20)
	reg := testutil.DistributionRestartable(t, testutil.DistributionOptions{})
	repo := "stellaops/crashed"
	var patches atomic.Int64
	crashed := make(chan error, 1)
	host := testutil.ProxyWrapped(t, reg.Host, func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if strings.Contains(r.URL.Path, "/blobs/uploads/") && r.Method == http.MethodPatch && patches.Add(1) == 2 {
				crashed <- crash(reg, repo, 1<<20)
			}
			next.ServeHTTP(w, r)
		})
	})
	u := chunkedUploader(t, host+"/"+repo)
	data := randomBytes(5<<20+99, 66)
	desc := blobDesc(data)
	if err := u.PushAt(t.Context(), desc, bytes.NewReader(data)); err != nil {
		t.Fatalf("PushAt across a registry crash that lost bytes: %v", err)
	}
	if err := <-crashed; err != nil {
		t.Fatalf("crash: %v", err)
	}
	if !holds(t, host, repo, desc, data) {
		t.Fatalf("registry does not hold %s", desc.Digest)
	}
}

// crash restarts reg and cuts the data of each upload session of repo to
// size, as a crash of its host loses what it had not written out.
func crash(reg *testutil.RestartableDistribution, repo string, size int64) error {
	if err := reg.Restart(); err != nil {
		return err
	}
	sessions, err := filepath.Glob(filepath.Join(reg.Storage(), "docker/registry/v2/repositories", repo, "_uploads/*/data"))
	if err != nil || len(sessions) == 0 {
		return fmt.Errorf("no upload session of %s on the registry's disk (%v)", repo, err)
	}
	for _, s := range sessions {
		if err := os.Truncate(s, size); err != nil {
			return err
		}
	}
	return nil
}
