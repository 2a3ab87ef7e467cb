package transfer_test

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/stellaops/mirror/internal/testutil"
	"github.com/stellaops/mirror/pkg/transfer"
)

// A registry that announces OCI-Chunk-Min-Length (3 MiB here) and refuses
// any PATCH under it, whose link to its storage node breaks one upload
// request (the client gets a 502): cut after the node took half of a
// 4 MiB PATCH, or with the PATCH taken whole and only its answer lost. The rest of that request, from the
// registry's offset, is under the minimum (2 MiB, or nothing at all): it
// goes with the next piece, never alone, and the blob is stored, from a
// stream (whose chunk buffers go back to the pool, none held over) and
// from a random-access source alike. The rest used to be sent on its
// own, refused every time, and the upload failed.
func TestResumedRequestKeepsChunkMinLength(t *testing.T) {
	const chunkMin = 3 << 20
	transfer.SetAtChunkSize(t, 4<<20)
	reg := testutil.Distribution(t)
	for _, fault := range []testutil.Fault{testutil.FaultCutUpload, testutil.FaultLoseAnswer} {
		for name, push := range pushers {
			t.Run(fmt.Sprintf("%s/fault=%d", name, fault), func(t *testing.T) {
				// The first request (POST) passes, the second (the first
				// PATCH) meets the fault, and no other request does.
				proxy := testutil.NewFaultProxy(t, reg, append([]testutil.Fault{testutil.FaultNone, fault}, make([]testutil.Fault, 40)...)...)
				host, counts := hostedDialect(t, proxy.Host, dialectOpts{chunkMin: chunkMin})
				repo := fmt.Sprintf("stellaops/resume-min-%s-%d", strings.ToLower(name), fault)
				up, err := testutil.Client(t).UploadRepository(host + "/" + repo)
				if err != nil {
					t.Fatal(err)
				}
				pool := transfer.NewChunkPool(2, 4<<20)
				u := &transfer.Uploader{Repo: up, Pool: pool, Backoff: time.Millisecond, Attempts: 3}
				data := randomBytes(10<<20+7, 190)
				desc := blobDesc(data)
				if err := push(t, u, desc, data); err != nil {
					t.Fatalf("push: %v", err)
				}
				if proxy.InjectedOf(fault) != 1 {
					t.Fatalf("%d faults injected, want 1", proxy.InjectedOf(fault))
				}
				if !holds(t, host, repo, desc, data) {
					t.Fatalf("registry does not hold %s", desc.Digest)
				}
				if n := counts.short.Load(); n != 0 {
					t.Errorf("%d PATCHes under OCI-Chunk-Min-Length", n)
				}
				if n := transfer.FreeBuffers(pool); n != pool.Slots() {
					t.Errorf("%d of the pool's %d buffers back after the upload", n, pool.Slots())
				}
			})
		}
	}
}
