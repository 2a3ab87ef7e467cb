package transfer_test

import (
	"bytes"
	"errors"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stellaops/mirror/internal/testutil"
	"github.com/stellaops/mirror/pkg/errdef"
	"github.com/stellaops/mirror/pkg/transfer"
)

// bodyLimit is a proxy in front of the registry at reg that refuses, as
// nginx does past its client_max_body_size, every request whose body is
// over limit bytes with 413 and an HTML page; it records the largest body
// it let through.
func bodyLimit(t *testing.T, reg string, limit int64) (host string, refused, largest *atomic.Int64) {
	refused, largest = new(atomic.Int64), new(atomic.Int64)
	host = testutil.ProxyWrapped(t, reg, func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.ContentLength > limit {
				refused.Add(1)
				w.Header().Set("Content-Type", "text/html")
				w.WriteHeader(http.StatusRequestEntityTooLarge)
				w.Write([]byte("<html><head><title>413 Request Entity Too Large</title></head><body><center><h1>413 Request Entity Too Large</h1></center><hr><center>nginx</center></body></html>\n"))
				return
			}
			for n := largest.Load(); r.ContentLength > n && !largest.CompareAndSwap(n, r.ContentLength); n = largest.Load() {
			}
			next.ServeHTTP(w, r)
		})
	})
	return host, refused, largest
}

// A registry behind a proxy that limits request bodies (nginx's
// client_max_body_size, 1 MiB unless raised) refuses an upload request
// over it with 413: the uploader sends the blob in smaller requests, down
// to the limit, and the registry ends up with it, from a stream and from
// a random-access source alike. Such a registry used to refuse every blob
// larger than its limit, failing the run.
func TestUploadShrinksRequestsPastABodyLimit(t *testing.T) {
	const limit = 1 << 20
	host, refused, largest := bodyLimit(t, testutil.Distribution(t), limit)
	client := testutil.Client(t)
	ctx := t.Context()
	for name, push := range map[string]func(u *transfer.Uploader, data []byte) error{
		"Push": func(u *transfer.Uploader, data []byte) error {
			return u.Push(ctx, blobDesc(data), bytes.NewReader(data))
		},
		"PushAt": func(u *transfer.Uploader, data []byte) error {
			return u.PushAt(ctx, blobDesc(data), bytes.NewReader(data))
		},
	} {
		t.Run(name, func(t *testing.T) {
			repo, err := client.UploadRepository(host + "/stellaops/limited-" + strings.ToLower(name))
			if err != nil {
				t.Fatal(err)
			}
			u := &transfer.Uploader{Repo: repo, ChunkSize: 4 << 20, Backoff: time.Millisecond, Attempts: 2}
			for i, size := range []int{9<<20 + 7, 3<<20 + 1} {
				data := randomBytes(size, uint64(90+i))
				if err := push(u, data); err != nil {
					t.Fatalf("push %d bytes: %v", size, err)
				}
				r, _ := client.Repository(host + "/stellaops/limited-" + strings.ToLower(name))
				if got, err := sampleRead(ctx, r, blobDesc(data)); err != nil || !bytes.Equal(got, data) {
					t.Fatalf("registry holds %d other bytes (%v)", len(got), err)
				}
			}
		})
	}
	if refused.Load() == 0 || largest.Load() > limit {
		t.Errorf("%d requests refused, the largest let through %d bytes", refused.Load(), largest.Load())
	}
}

// Past a body limit too small to shrink under (less than 512 KiB), the
// upload fails with one line that names the registry and says what to
// raise; it used to end with the proxy's "413 Request Entity Too Large"
// and no sentinel, unexplained.
func TestUploadPastATinyBodyLimitExplains(t *testing.T) {
	host, _, _ := bodyLimit(t, testutil.Distribution(t), 100<<10)
	repo, err := testutil.Client(t).UploadRepository(host + "/stellaops/tiny")
	if err != nil {
		t.Fatal(err)
	}
	data := randomBytes(1<<20, 95)
	err = (&transfer.Uploader{Repo: repo, Backoff: time.Millisecond, Attempts: 2}).PushAt(t.Context(), blobDesc(data), bytes.NewReader(data))
	if !errors.Is(err, errdef.ErrUnavailable) || !strings.Contains(err.Error(), host) || !strings.Contains(err.Error(), "client_max_body_size") || strings.Contains(err.Error(), "\n") {
		t.Fatalf("push past a 100 KiB body limit: %v", err)
	}
}

// A proxy's body limit is the host's, not one repository's: the Uploaders
// of two repositories sharing a Dialect learn it once, so the second
// repository's upload sends no request the proxy refuses. Each
// repository used to pay its own 413s.
func TestBodyLimitLearntOncePerHost(t *testing.T) {
	const limit = 1 << 20
	host, refused, largest := bodyLimit(t, testutil.Distribution(t), limit)
	client := testutil.Client(t)
	d := new(transfer.Dialect)
	var first int64
	for i, repo := range []string{"stellaops/limit-a", "stellaops/limit-b"} {
		up, err := client.UploadRepository(host + "/" + repo)
		if err != nil {
			t.Fatal(err)
		}
		u := &transfer.Uploader{Repo: up, Dialect: d, ChunkSize: 4 << 20, Backoff: time.Millisecond, Attempts: 2}
		data := randomBytes(6<<20+3, uint64(96+i))
		if err := u.Push(t.Context(), blobDesc(data), bytes.NewReader(data)); err != nil {
			t.Fatalf("Push into %s: %v", repo, err)
		}
		if !holds(t, host, repo, blobDesc(data), data) {
			t.Fatalf("%s does not hold %s", repo, blobDesc(data).Digest)
		}
		if i == 0 {
			first = refused.Load()
		}
	}
	if first == 0 || refused.Load() != first || largest.Load() > limit {
		t.Errorf("%d requests refused for the first repository, %d for the second (the largest let through %d bytes); want some, then none",
			first, refused.Load()-first, largest.Load())
	}
}
