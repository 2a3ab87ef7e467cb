package mirror_test

import (
	"net/http"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/stellaops/mirror/internal/testutil"
	"github.com/stellaops/mirror/pkg/mirror"
)

// uploadLog is what a registry saw of upload sessions, by session path.
type uploadLog struct {
	mu                    sync.Mutex
	patched, put, deleted map[string]bool
}

func (l *uploadLog) saw(r *http.Request) {
	if !strings.Contains(r.URL.Path, "/blobs/uploads/") {
		return
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	switch r.Method {
	case http.MethodPatch:
		l.patched[r.URL.Path] = true
	case http.MethodPut:
		l.put[r.URL.Path] = true
	case http.MethodDelete:
		l.deleted[r.URL.Path] = true
	}
}

// uploadDialect puts a thin handler in front of the distribution registry
// that logs upload requests and, as hosted registries do, refuses PATCH
// (noPatch) or answers the POST opening a session with
// OCI-Chunk-Min-Length (chunkMin, refusing shorter PATCHes).
func uploadDialect(t *testing.T, noPatch bool, chunkMin int64) (string, *uploadLog) {
	l := &uploadLog{patched: map[string]bool{}, put: map[string]bool{}, deleted: map[string]bool{}}
	host := testutil.ProxyWrapped(t, testutil.Distribution(t), func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			l.saw(r)
			upload := strings.Contains(r.URL.Path, "/blobs/uploads/")
			if upload && r.Method == http.MethodPatch {
				if noPatch {
					http.Error(w, `{"errors":[{"code":"UNSUPPORTED","message":"chunked uploads are not supported"}]}`, http.StatusMethodNotAllowed)
					return
				}
				if chunkMin > 0 && r.ContentLength < chunkMin {
					http.Error(w, `{"errors":[{"code":"BLOB_UPLOAD_INVALID","message":"chunk under OCI-Chunk-Min-Length"}]}`, http.StatusRequestedRangeNotSatisfiable)
					return
				}
			}
			if upload && r.Method == http.MethodPost && chunkMin > 0 {
				w.Header().Set("OCI-Chunk-Min-Length", strconv.FormatInt(chunkMin, 10))
			}
			next.ServeHTTP(w, r)
		})
	})
	return host, l
}

// TestDoctorChunkedUpload: the chunked-upload check opens a session, sends
// one PATCH and cancels the session, leaving no blob; it passes where the
// registry takes chunks (saying the smallest it takes), and warns where it
// refuses PATCH, saying what that means for an import.
func TestDoctorChunkedUpload(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name       string
		noPatch    bool
		chunkMin   int64
		status     mirror.CheckStatus
		uploads    string
		wantDetail []string
	}{
		{name: "distribution", status: mirror.CheckPass, uploads: "chunked", wantDetail: []string{"chunks"}},
		{name: "chunk minimum", chunkMin: 100, status: mirror.CheckPass, uploads: "chunked, at least 100 bytes a chunk", wantDetail: []string{"100 bytes"}},
		{name: "no PATCH", noPatch: true, status: mirror.CheckWarn, uploads: "one request a blob",
			wantDetail: []string{"405", "one PUT each", "cannot be imported", "stella mirror pack"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			host, l := uploadDialect(t, tt.noPatch, tt.chunkMin)
			res, err := doctor(t, host, testutil.Client(t))
			if err != nil {
				t.Fatal(err)
			}
			wantChecks(t, res, map[string]mirror.CheckStatus{mirror.CheckPush: mirror.CheckPass, mirror.CheckChunked: tt.status})
			if c := res.Check(mirror.CheckChunked); c != nil {
				for _, s := range tt.wantDetail {
					if !strings.Contains(c.Detail, s) {
						t.Errorf("chunked-upload detail %q does not say %q", c.Detail, s)
					}
				}
			}
			if c := res.Check(mirror.CheckPush); c != nil && strings.Contains(c.Detail, "chunked") {
				t.Errorf("push detail %q claims a chunked upload", c.Detail)
			}
			if res.Mode == nil || res.Mode.Uploads != tt.uploads {
				t.Errorf("mode %+v, want uploads %q", res.Mode, tt.uploads)
			}
			l.mu.Lock()
			defer l.mu.Unlock()
			if len(l.patched) != 1 {
				t.Fatalf("PATCHed sessions %v, want one", l.patched)
			}
			for path := range l.patched {
				if !l.deleted[path] {
					t.Errorf("session %s was not cancelled (DELETEs: %v)", path, l.deleted)
				}
				if l.put[path] {
					t.Errorf("session %s was completed with a PUT: a probe blob is left", path)
				}
			}
		})
	}
}
