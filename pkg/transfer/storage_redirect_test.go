package transfer_test

import (
	"bytes"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"oras.land/oras-go/v2/content/memory"

	"github.com/stellaops/mirror/internal/testutil"
	"github.com/stellaops/mirror/pkg/transfer"
)

// A hosted registry answers a blob GET with a 307 to its storage (S3, GCS:
// a presigned URL on another host). The storage's first answer breaks off
// half-way: one that honours Range is asked for the rest only (a ranged
// GET, sent to the registry and redirected again); one that ignores Range
// (200 with the whole blob) has the blob fetched again. Either way the copy
// holds the blob's bytes.
func TestCopyFromRedirectingStorage(t *testing.T) {
	data := randomBytes(2<<20+9, 101)
	for _, ranges := range []bool{true, false} {
		t.Run(fmt.Sprintf("ranges=%v", ranges), func(t *testing.T) {
			var answers, served atomic.Int64
			storage := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if r.URL.Query().Get("X-Amz-Signature") == "" {
					http.Error(w, "unsigned", http.StatusForbidden)
					return
				}
				body, status := data, http.StatusOK
				if ranges {
					w.Header().Set("Accept-Ranges", "bytes")
					var start int
					if _, err := fmt.Sscanf(r.Header.Get("Range"), "bytes=%d-", &start); err == nil {
						body, status = data[start:], http.StatusPartialContent
						w.Header().Set("Content-Range", fmt.Sprintf("bytes %d-%d/%d", start, len(data)-1, len(data)))
					}
				}
				w.Header().Set("Content-Length", fmt.Sprint(len(body)))
				w.WriteHeader(status)
				if answers.Add(1) == 1 {
					body = body[:len(body)/2] // the first answer breaks off
				}
				// Counted before it is written: the client may have read
				// the last byte, and the copy returned, before Write does.
				served.Add(int64(len(body)))
				w.Write(body)
			}))
			t.Cleanup(storage.Close)
			reg := testutil.RegistryWrapped(t, func(next http.Handler) http.Handler {
				return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
					if r.Method == http.MethodGet && strings.Contains(r.URL.Path, "/blobs/sha256:") {
						http.Redirect(w, r, storage.URL+"/bucket/blob?X-Amz-Signature=s1gned", http.StatusTemporaryRedirect)
						return
					}
					next.ServeHTTP(w, r)
				})
			})
			desc := pushBlob(t, reg+"/stellaops/redirected", data)
			repo, _ := testutil.Client(t).Repository(reg + "/stellaops/redirected")
			dst := memory.New()
			if _, err := transfer.CopyBlobs(t.Context(), []transfer.Job{{Desc: desc, Src: repo, Dst: dst}}, transfer.Options{Attempts: 2, Backoff: time.Millisecond}); err != nil {
				t.Fatal(err)
			}
			if got, err := sampleRead(t.Context(), dst, desc); err != nil || !bytes.Equal(got, data) {
				t.Fatalf("copied %d other bytes (%v)", len(got), err)
			}
			want := int64(len(data))
			if !ranges {
				want += int64(len(data)) / 2
			}
			if answers.Load() != 2 || served.Load() != want {
				t.Errorf("storage answered %d times, %d bytes; want 2 answers, %d bytes", answers.Load(), served.Load(), want)
			}
		})
	}
}
