package transfer_test

import (
	"errors"
	"testing"
	"time"

	"github.com/stellaops/mirror/internal/testutil"
	"github.com/stellaops/mirror/pkg/errdef"
	"github.com/stellaops/mirror/pkg/remote"
	"github.com/stellaops/mirror/pkg/transfer"
)

// Push reads its content from a stream; when that stream is a registry's
// answer (sync or import from a registry that serves no ranges, a blob
// spread to another repository where the registry would not mount it),
// the answer can be cut short by the network. That is a transient fault
// (exit 1, worth a retry), not content that fails its digest: exit code 2
// tells the operator the bundle is corrupt. readChunks turned every
// io.ErrUnexpectedEOF of its source into errdef.ErrDigestMismatch
// (before the fix).
func TestPushOfACutAnswerIsTransient(t *testing.T) {
	reg := testutil.Distribution(t)
	data := randomBytes(6<<20, 83)
	desc := pushBlob(t, reg+"/stellaops/cut-src", data)
	proxy := testutil.NewFaultProxy(t, reg, testutil.FaultTruncate)
	client := testutil.Client(t)
	src, _ := client.Repository(proxy.Host + "/stellaops/cut-src")
	rc, err := src.Fetch(t.Context(), desc)
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	up, _ := client.UploadRepository(reg + "/stellaops/cut-dst")
	u := &transfer.Uploader{Repo: up, ChunkSize: 1 << 20, Backoff: time.Millisecond}
	err = u.Push(t.Context(), desc, rc)
	if err == nil {
		t.Fatal("a cut answer was pushed whole")
	}
	if proxy.InjectedOf(testutil.FaultTruncate) != 1 {
		t.Fatalf("%d answers cut", proxy.InjectedOf(testutil.FaultTruncate))
	}
	if errors.Is(err, errdef.ErrDigestMismatch) || !remote.IsTransient(err) {
		t.Fatalf("a source answer cut short: %v (digest mismatch: %v, transient: %v); want a transient error, not a digest mismatch",
			err, errors.Is(err, errdef.ErrDigestMismatch), remote.IsTransient(err))
	}
}
