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

// A blob's answer that breaks off is resumed with a ranged request from
// the byte it broke at, within the same attempt: three answers in a row cut
// short cost three ranged requests, not three fetches of the whole blob
// (the copy used to fail here: two attempts allowed). A registry that cuts
// every answer is given up on after a bounded number of them.
func TestCopyResumesACutAnswer(t *testing.T) {
	reg := testutil.Distribution(t)
	client := testutil.Client(t)
	ctx := context.Background()
	data := randomBytes(3<<20+5, 77)
	desc := pushBlob(t, reg+"/stellaops/resume", data)
	// Two attempts: four resumes each.
	opts := transfer.Options{Attempts: 2, Backoff: time.Millisecond}
	t.Run("three cuts", func(t *testing.T) {
		proxy := testutil.NewFaultProxy(t, reg, testutil.FaultTruncate, testutil.FaultTruncate, testutil.FaultTruncate, testutil.FaultNone)
		repo, _ := client.Repository(proxy.Host + "/stellaops/resume")
		dst := memory.New()
		if _, err := transfer.CopyBlobs(ctx, []transfer.Job{{Desc: desc, Src: repo, Dst: dst}}, opts); err != nil {
			t.Fatalf("copy through three cut answers, one attempt: %v", err)
		}
		if got, err := sampleRead(ctx, dst, desc); err != nil || !bytes.Equal(got, data) {
			t.Fatalf("copied %d different bytes (%v)", len(got), err)
		}
		if cuts, reqs := proxy.InjectedOf(testutil.FaultTruncate), proxy.Requests.Load(); cuts != 3 || reqs != 4 {
			t.Errorf("%d cuts, %d requests: want 3 cut answers and the ranged request that ended the blob", cuts, reqs)
		}
	})
	t.Run("every answer cut", func(t *testing.T) {
		proxy := testutil.NewFaultProxy(t, reg, testutil.FaultTruncate)
		repo, _ := client.Repository(proxy.Host + "/stellaops/resume")
		_, err := transfer.CopyBlobs(ctx, []transfer.Job{{Desc: desc, Src: repo, Dst: memory.New()}}, opts)
		if err == nil {
			t.Fatal("a registry that cuts every answer: the copy succeeded")
		}
		if reqs := proxy.Requests.Load(); reqs != 10 {
			t.Errorf("%d requests before giving up, want 10: two attempts of a fetch and four resumes", reqs)
		}
		t.Logf("%d requests: %v", proxy.Requests.Load(), err)
	})
}
