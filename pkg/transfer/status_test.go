package transfer_test

import (
	"bytes"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stellaops/mirror/internal/testutil"
	"github.com/stellaops/mirror/pkg/transfer"
)

// droppingRegistry is a registry that stores whatever an upload brings and
// completes it unchecked, and whose first requests carrying content
// drop the connection after reading the first cuts[i] bytes: the client
// sends again from the registry's offset, bytes it had read and hashed
// before. Like distribution, it reports an upload status
// of "0-0" for nothing held and for one byte, and refuses content that
// does not start where the upload stands (416). It returns what each
// completed upload held.
func droppingRegistry(t *testing.T, cuts ...int64) (host string, completed func() [][]byte) {
	var mu sync.Mutex
	held := map[string][]byte{}
	requests := 0 // with content, in all sessions
	var done [][]byte
	host = testutil.RegistryWrapped(t, func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if !strings.Contains(r.URL.Path, "/blobs/uploads/") || r.Method == http.MethodPost || r.Method == http.MethodDelete {
				next.ServeHTTP(w, r)
				return
			}
			mu.Lock()
			defer mu.Unlock()
			path := r.URL.Path
			if r.Method == http.MethodGet {
				w.Header().Set("Location", path)
				w.Header().Set("Range", fmt.Sprintf("0-%d", max(len(held[path])-1, 0)))
				w.WriteHeader(http.StatusNoContent)
				return
			}
			if start, _, _ := strings.Cut(r.Header.Get("Content-Range"), "-"); start != "" && start != strconv.Itoa(len(held[path])) {
				w.WriteHeader(http.StatusRequestedRangeNotSatisfiable)
				return
			}
			i := requests
			requests++
			if i < len(cuts) {
				var buf bytes.Buffer
				io.CopyN(&buf, r.Body, cuts[i])
				held[path] = append(held[path], buf.Bytes()...)
				conn, _, err := w.(http.Hijacker).Hijack()
				if err == nil {
					conn.Close()
				}
				return
			}
			data, err := io.ReadAll(r.Body)
			held[path] = append(held[path], data...)
			if err != nil {
				return // a request cut short completes nothing
			}
			if r.Method == http.MethodPut {
				done = append(done, held[path])
				w.WriteHeader(http.StatusCreated)
				return
			}
			w.Header().Set("Location", path)
			w.Header().Set("Range", fmt.Sprintf("0-%d", len(held[path])-1))
			w.WriteHeader(http.StatusAccepted)
		})
	})
	return host, func() [][]byte {
		mu.Lock()
		defer mu.Unlock()
		return done
	}
}

// distribution reports "0-0" both for an upload holding nothing and for one
// holding a single byte. A request broken off after one byte used to be
// sent again from byte 0, refused (416) and sent again, until the attempts
// ran out; the upload now starts over in a new session.
func TestUploaderStartsOverWhenOneByteMayBeHeld(t *testing.T) {
	host, completed := droppingRegistry(t, 1)
	up, err := testutil.Client(t).UploadRepository(host + "/stellaops/one-byte")
	if err != nil {
		t.Fatal(err)
	}
	u := &transfer.Uploader{Repo: up, Backoff: time.Millisecond, Attempts: 4}
	data := []byte("{}")
	desc := blobDesc(data)
	if err := u.PushAt(t.Context(), desc, bytes.NewReader(data)); err != nil {
		t.Fatalf("PushAt: %v", err)
	}
	if got := completed(); len(got) != 1 || !bytes.Equal(got[0], data) {
		t.Fatalf("completed uploads: %q", got)
	}
}
