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
// request. oras-go turns the ranged request's 503 into a plain "seek:
// unexpected status code 503", which the resuming reader handed on and
// copyOne took for permanent: the copy failed at once (before the fix).
func TestCopyRetriesAFailedResume(t *testing.T) {
	reg := testutil.Distribution(t)
	client := testutil.Client(t) // one retry in the transport
	ctx := context.Background()
	data := randomBytes(3<<20+5, 78)
	desc := pushBlob(t, reg+"/stellaops/resume503", data)
	opts := transfer.Options{Attempts: 5, Backoff: time.Millisecond}
	pattern := []testutil.Fault{testutil.FaultTruncate, testutil.Fault503, testutil.Fault503}
	for range 20 {
		pattern = append(pattern, testutil.FaultNone)
	}
	proxy := testutil.NewFaultProxy(t, reg, pattern...)
	repo, _ := client.Repository(proxy.Host + "/stellaops/resume503")
	dst := memory.New()
	if _, err := transfer.CopyBlobs(ctx, []transfer.Job{{Desc: desc, Src: repo, Dst: transfer.Verified(dst)}}, opts); err != nil {
		t.Fatalf("copy: %v (after %d requests, %d faults)", err, proxy.Requests.Load(), proxy.Injected.Load())
	}
	if got, err := sampleRead(ctx, dst, desc); err != nil || !bytes.Equal(got, data) {
		t.Fatalf("copied %d different bytes (%v)", len(got), err)
	}
}

// The same three faults met by the blob's first request: the copy gets
// past them (the control for the test above).
func TestCopyRetriesFaultsOfItsFirstRequest(t *testing.T) {
	reg := testutil.Distribution(t)
	client := testutil.Client(t)
	ctx := context.Background()
	data := randomBytes(3<<20+5, 79)
	desc := pushBlob(t, reg+"/stellaops/fetch503", data)
	opts := transfer.Options{Attempts: 5, Backoff: time.Millisecond}
	pattern := []testutil.Fault{testutil.Fault503, testutil.Fault503, testutil.FaultTruncate}
	for range 20 {
		pattern = append(pattern, testutil.FaultNone)
	}
	proxy := testutil.NewFaultProxy(t, reg, pattern...)
	repo, _ := client.Repository(proxy.Host + "/stellaops/fetch503")
	dst := memory.New()
	if _, err := transfer.CopyBlobs(ctx, []transfer.Job{{Desc: desc, Src: repo, Dst: transfer.Verified(dst)}}, opts); err != nil {
		t.Fatalf("copy: %v", err)
	}
}
