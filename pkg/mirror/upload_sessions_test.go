package mirror_test

import (
	"context"
	"io"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stellaops/mirror/internal/sample"
	"github.com/stellaops/mirror/internal/testutil"
	"github.com/stellaops/mirror/pkg/mirror"
)

// An import whose one blob fails (the registry refuses its upload) ends
// the run, and the uploads in flight beside it are abandoned part-way:
// each session the import opened is completed or cancelled (DELETE), none
// left to the registry's purge (distribution: a week). The uploads the
// failure interrupted used to leave theirs: only an upload that failed by
// itself cancelled its session.
func TestFailedImportLeavesNoUploadSession(t *testing.T) {
	s := newSignedSample(t, sample.Spec{}, 0)
	var (
		mu                          sync.Mutex
		opened, completed, canceled = map[string]bool{}, map[string]bool{}, map[string]bool{}
		puts                        atomic.Int64
		second                      = make(chan struct{})
		secondOnce                  sync.Once
	)
	host := testutil.ProxyWrapped(t, testutil.Distribution(t), func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if !strings.Contains(r.URL.Path, "/blobs/uploads/") {
				next.ServeHTTP(w, r)
				return
			}
			if r.Method == http.MethodPut {
				// Read whole, so that the server sees the client go.
				io.Copy(io.Discard, r.Body)
				if puts.Add(1) == 1 {
					// The first blob to complete is refused once another
					// is on its way.
					select {
					case <-second:
					case <-r.Context().Done():
						return
					}
					http.Error(w, `{"errors":[{"code":"DENIED","message":"refused by the test"}]}`, http.StatusForbidden)
					return
				}
				secondOnce.Do(func() { close(second) })
				// The others are held until the import gives them up.
				<-r.Context().Done()
				return
			}
			rec := &recorder{ResponseWriter: w}
			next.ServeHTTP(rec, r)
			mu.Lock()
			defer mu.Unlock()
			switch {
			case r.Method == http.MethodPost && rec.status == http.StatusAccepted:
				loc, _, _ := strings.Cut(w.Header().Get("Location"), "?")
				opened[loc[strings.Index(loc, "/v2/"):]] = true
			case r.Method == http.MethodDelete && rec.status == http.StatusNoContent:
				canceled[r.URL.Path] = true
			}
		})
	})
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute) // a safety net only
	defer cancel()
	if _, err := mirror.Import(ctx, importOpts(t, s.dir, host, s.pub)); err == nil || ctx.Err() != nil {
		t.Fatalf("import whose blob was refused: %v (safety net: %v)", err, ctx.Err())
	}
	mu.Lock()
	defer mu.Unlock()
	if len(opened) < 2 {
		t.Fatalf("%d upload sessions opened, want several", len(opened))
	}
	for s := range opened {
		if !completed[s] && !canceled[s] {
			t.Errorf("upload session %s left on the registry", s)
		}
	}
}

type recorder struct {
	http.ResponseWriter
	status int
}

func (w *recorder) WriteHeader(code int) {
	w.status = code
	w.ResponseWriter.WriteHeader(code)
}
