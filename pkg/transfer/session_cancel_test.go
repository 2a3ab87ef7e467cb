package transfer_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"

	"github.com/stellaops/mirror/internal/testutil"
	"github.com/stellaops/mirror/pkg/errdef"
	"github.com/stellaops/mirror/pkg/transfer"
)

// sessionLog is a handler in front of a real registry that records the
// upload sessions opened (the POSTs' Locations), completed (a PUT
// answered 201) and cancelled (a DELETE answered 204), by path.
type sessionLog struct {
	mu                          sync.Mutex
	opened, completed, canceled map[string]bool
	// hold, if set, is called for each PATCH once its body was read, before
	// it goes on: it may hold the request (until its client gives up).
	hold func(r *http.Request, n int)
	n    int
}

func newSessionLog(t *testing.T, reg string) (*sessionLog, string) {
	l := &sessionLog{opened: map[string]bool{}, completed: map[string]bool{}, canceled: map[string]bool{}}
	host := testutil.ProxyWrapped(t, reg, func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if !strings.Contains(r.URL.Path, "/blobs/uploads/") {
				next.ServeHTTP(w, r)
				return
			}
			if r.Method == http.MethodPatch && l.hold != nil {
				body, _ := io.ReadAll(r.Body)
				r.Body = io.NopCloser(bytes.NewReader(body))
				l.mu.Lock()
				l.n++
				n := l.n
				l.mu.Unlock()
				l.hold(r, n)
				if r.Context().Err() != nil {
					return
				}
			}
			rec := &statusWriter{ResponseWriter: w}
			next.ServeHTTP(rec, r)
			l.mu.Lock()
			defer l.mu.Unlock()
			switch {
			case r.Method == http.MethodPost && rec.status == http.StatusAccepted:
				l.opened[sessionPath(w.Header().Get("Location"))] = true
			case r.Method == http.MethodPut && rec.status == http.StatusCreated:
				l.completed[r.URL.Path] = true
			case r.Method == http.MethodDelete && rec.status == http.StatusNoContent:
				l.canceled[r.URL.Path] = true
			}
		})
	})
	return l, host
}

// left lists the sessions opened and neither completed nor cancelled.
func (l *sessionLog) left() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []string
	for s := range l.opened {
		if !l.completed[s] && !l.canceled[s] {
			out = append(out, s)
		}
	}
	return out
}

func sessionPath(loc string) string {
	p, _, _ := strings.Cut(loc, "?")
	if i := strings.Index(p, "/v2/"); i >= 0 {
		p = p[i:]
	}
	return p
}

type statusWriter struct {
	http.ResponseWriter
	status int
}

func (w *statusWriter) WriteHeader(code int) {
	w.status = code
	w.ResponseWriter.WriteHeader(code)
}

// An upload abandoned mid-way, by a run interrupted (Ctrl-C) or cancelled
// because another blob failed (the errgroup's context), has its session
// cancelled on the registry (DELETE, bounded in time), which otherwise
// keeps the partial data until its purge (distribution: a week); the
// error is the cancellation still. Such a session used to be left: only
// an upload that failed by itself was cancelled. An upload whose content
// fails its digest mid-way is cancelled as before.
func TestAbandonedUploadSessionsAreCancelled(t *testing.T) {
	transfer.SetAtChunkSize(t, 2<<20)
	reg := testutil.Distribution(t)
	data := randomBytes(5<<20+7, 71)
	desc := blobDesc(data)
	for name, push := range pushers {
		t.Run("interrupted/"+name, func(t *testing.T) {
			l, host := newSessionLog(t, reg)
			ctx, cancel := context.WithCancel(t.Context())
			defer cancel()
			l.hold = func(r *http.Request, n int) {
				if n == 2 {
					// The second PATCH: the session holds the first.
					cancel()
					<-r.Context().Done()
				}
			}
			u := chunkedUploader(t, host+"/stellaops/interrupted-"+strings.ToLower(name))
			var err error
			if name == "Push" {
				err = u.Push(ctx, desc, bytes.NewReader(data))
			} else {
				err = u.PushAt(ctx, desc, bytes.NewReader(data))
			}
			if !errors.Is(err, context.Canceled) {
				t.Fatalf("interrupted upload: %v, want the cancellation", err)
			}
			if left := l.left(); len(left) != 0 || len(l.opened) == 0 {
				t.Errorf("sessions left on the registry: %v (of %d opened)", left, len(l.opened))
			}
		})
		t.Run("content mismatch/"+name, func(t *testing.T) {
			l, host := newSessionLog(t, reg)
			u := chunkedUploader(t, host+"/stellaops/mismatch-"+strings.ToLower(name))
			bad := bytes.Clone(data)
			bad[len(bad)-1] ^= 1
			if err := push(t, u, desc, bad); !errors.Is(err, errdef.ErrDigestMismatch) {
				t.Fatalf("upload of other content: %v, want a digest mismatch", err)
			}
			if left := l.left(); len(left) != 0 || len(l.opened) == 0 {
				t.Errorf("sessions left on the registry: %v (of %d opened)", left, len(l.opened))
			}
		})
	}
}
