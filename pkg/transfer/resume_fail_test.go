package transfer_test

import (
	"bytes"
	"context"
	"testing"
	"time"

	"oras.land/oras-go/v2/content/memory"

	"github.com/stellaops/mirror/internal/testutil"
	"github.com/stellaops/mirror/pkg/transfer"
)

// A blob's answer is cut short, and the ranged request that would resume
// it meets the registry's 503s (more of them than the transport's own
// retries). A 503 is transient: the copy, allowed five attempts,
// fetches the blob again, as it does when the same 503s meet its first
// request (the control case). oras-go turns the ranged request's 503 into
// a plain "seek: unexpected status code 503", which the resuming reader
// handed on and copyOne took for permanent: the copy failed at once
// (before the fix).
func TestCopyRetriesAFailedResume(t *testing.T) {
	reg := testutil.Distribution(t)
	client := testutil.Client(t) // one retry in the transport
	ctx := context.Background()
	for i, faults := range map[string][]testutil.Fault{
		"resume":        {testutil.FaultTruncate, testutil.Fault503, testutil.Fault503},
		"first request": {testutil.Fault503, testutil.Fault503, testutil.FaultTruncate},
	} {
		t.Run(i, func(t *testing.T) {
			data := randomBytes(3<<20+5, uint64(len(i)))
			desc := pushBlob(t, reg+"/stellaops/resume503", data)
			pattern := append([]testutil.Fault{}, faults...)
			for range 20 {
				pattern = append(pattern, testutil.FaultNone)
			}
			proxy := testutil.NewFaultProxy(t, reg, pattern...)
			repo, _ := client.Repository(proxy.Host + "/stellaops/resume503")
			dst := memory.New()
			opts := transfer.Options{Attempts: 5, Backoff: time.Millisecond}
			if _, err := transfer.CopyBlobs(ctx, []transfer.Job{{Desc: desc, Src: repo, Dst: transfer.Verified(dst)}}, opts); err != nil {
				t.Fatalf("copy: %v (after %d requests, %d faults)", err, proxy.Requests.Load(), proxy.Injected.Load())
			}
			if got, err := sampleRead(ctx, dst, desc); err != nil || !bytes.Equal(got, data) {
				t.Fatalf("copied %d different bytes (%v)", len(got), err)
			}
		})
	}
}
