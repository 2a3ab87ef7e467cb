package transfer_test

import (
	"bytes"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stellaops/mirror/internal/testutil"
	"github.com/stellaops/mirror/pkg/transfer"
)

// An upload that a registry's rate limit refuses (429 or 503, Retry-After
// as an HTTP-date, refused again if the client comes back earlier) waits
// as told and completes with one retry; the date form used to be ignored,
// so the retries came back at once and were all spent on refusals.
func TestUploadHonoursRetryAfterDate(t *testing.T) {
	data := randomBytes(3<<20+1, 81)
	for _, status := range []int{http.StatusTooManyRequests, http.StatusServiceUnavailable} {
		t.Run(http.StatusText(status), func(t *testing.T) {
			t.Parallel()
			limit := &testutil.RateLimit{Status: status, Wait: 2 * time.Second, HTTPDate: true,
				Match: func(r *http.Request) bool {
					return r.Method == http.MethodPatch && strings.Contains(r.URL.Path, "/blobs/uploads/")
				}}
			host := testutil.RegistryWrapped(t, limit.Wrap)
			client := testutil.Client(t)
			repo, err := client.UploadRepository(host + "/stellaops/limited")
			if err != nil {
				t.Fatal(err)
			}
			u := &transfer.Uploader{Repo: repo, ChunkSize: 1 << 20, Backoff: time.Millisecond, Attempts: 2}
			if err := u.Push(t.Context(), blobDesc(data), bytes.NewReader(data)); err != nil {
				t.Fatalf("push after %d refusals: %v", limit.Refused.Load(), err)
			}
			r, _ := client.Repository(host + "/stellaops/limited")
			if got, err := sampleRead(t.Context(), r, blobDesc(data)); err != nil || !bytes.Equal(got, data) {
				t.Fatalf("registry holds %d other bytes (%v)", len(got), err)
			}
			if limit.Refused.Load() != 1 {
				t.Errorf("refused %d times, want once", limit.Refused.Load())
			}
		})
	}
}
