package transfer_test

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/stellaops/mirror/internal/testutil"
	"github.com/stellaops/mirror/pkg/errdef"
	"github.com/stellaops/mirror/pkg/transfer"
)

// rereadingSource serves data, and every byte read a second time or more
// inverted when flip is set: media that read differently after a fault.
type rereadingSource struct {
	data []byte
	flip bool

	mu      sync.Mutex
	seen    []bool
	reReads int
}

func (s *rereadingSource) ReadAt(p []byte, off int64) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if off >= int64(len(s.data)) {
		return 0, io.EOF
	}
	n := copy(p, s.data[off:])
	for i := range n {
		if s.seen[off+int64(i)] {
			s.reReads++
			if s.flip {
				p[i] ^= 0xff
			}
		}
		s.seen[off+int64(i)] = true
	}
	if n < len(p) {
		return n, io.EOF
	}
	return n, nil
}

// droppingRegistry is a registry that stores whatever an upload brings and
// completes it unchecked, and whose first requests carrying content
// drop the connection after reading the first cuts[i] bytes: the client sends again from the registry's offset, bytes it had
// read and hashed before. Like distribution, it reports an upload status
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

// Bytes sent again after a fault are checked against those first sent: a
// source that reads otherwise the second time fails the upload, and a
// registry that checks no digest never completes the mixture. It used to
// complete it: only the first read was hashed.
func TestUploaderAtChecksResentBytes(t *testing.T) {
	data := randomBytes(2<<20+77, 31)
	desc := ocispec.Descriptor{Digest: digest.FromBytes(data), Size: int64(len(data))}
	for _, flip := range []bool{false, true} {
		t.Run(fmt.Sprintf("flip=%v", flip), func(t *testing.T) {
			host, completed := droppingRegistry(t, 1536<<10, 100<<10)
			up, err := testutil.Client(t).UploadRepository(host + "/stellaops/resent")
			if err != nil {
				t.Fatal(err)
			}
			u := &transfer.Uploader{Repo: up, Backoff: time.Millisecond, Attempts: 5}
			src := &rereadingSource{data: data, flip: flip, seen: make([]bool, len(data))}
			err = u.PushAt(t.Context(), desc, src)
			if src.reReads == 0 {
				t.Fatal("nothing was read twice: the registry's drops did not make the client send again")
			}
			for _, got := range completed() {
				if !bytes.Equal(got, data) {
					t.Fatalf("the registry completed the upload with other bytes than the blob's (%d of %d bytes)", len(got), len(data))
				}
			}
			switch {
			case flip && !errors.Is(err, errdef.ErrDigestMismatch):
				t.Fatalf("bytes read otherwise the second time: %v, want a digest mismatch", err)
			case !flip && (err != nil || len(completed()) != 1):
				t.Fatalf("a source that reads the same twice: %v, %d uploads completed", err, len(completed()))
			}
			t.Logf("%d bytes read again; %v", src.reReads, err)
		})
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
	desc := ocispec.Descriptor{Digest: digest.FromBytes(data), Size: int64(len(data))}
	if err := u.PushAt(t.Context(), desc, bytes.NewReader(data)); err != nil {
		t.Fatalf("PushAt: %v", err)
	}
	if got := completed(); len(got) != 1 || !bytes.Equal(got[0], data) {
		t.Fatalf("completed uploads: %q", got)
	}
}
