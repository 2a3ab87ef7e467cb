package transfer_test

import (
	"bytes"
	"net/http"
	"strings"
	"sync"
	"testing"

	"github.com/stellaops/mirror/internal/testutil"
	"github.com/stellaops/mirror/pkg/transfer"
)

// The session a refused PATCH was sent in is cancelled before the PATCH is
// asked again in a fresh one, where the refused session is not the one the
// upload opened: the registry lost that one at its first PATCH (404
// BLOB_UPLOAD_INVALID), the uploader opened another, and its PATCH met a
// 404 that may be a fault of the moment. PushAt and ProbeChunks cancelled
// the session the upload opened, long gone, and left the refused one on
// the registry until it expired it.
func TestRefusedPatchSessionIsCancelled(t *testing.T) {
	transfer.SetAtChunkSize(t, 2<<20)
	reg := testutil.Distribution(t)
	probe := func(t *testing.T, u *transfer.Uploader, _ []byte) error {
		_, err := u.ProbeChunks(t.Context())
		return err
	}
	for name, push := range map[string]func(t *testing.T, u *transfer.Uploader, data []byte) error{
		"Push": func(t *testing.T, u *transfer.Uploader, data []byte) error {
			return u.Push(t.Context(), blobDesc(data), bytes.NewReader(data))
		},
		"PushAt": func(t *testing.T, u *transfer.Uploader, data []byte) error {
			return u.PushAt(t.Context(), blobDesc(data), bytes.NewReader(data))
		},
		"ProbeChunks": probe,
	} {
		t.Run(name, func(t *testing.T) {
			var (
				mu       sync.Mutex
				patches  int
				refused  string // the session whose PATCH was refused
				canceled = map[string]bool{}
			)
			host := testutil.ProxyWrapped(t, reg, func(next http.Handler) http.Handler {
				return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
					if strings.Contains(r.URL.Path, "/blobs/uploads/") {
						mu.Lock()
						switch r.Method {
						case http.MethodDelete:
							canceled[r.URL.Path] = true
						case http.MethodPatch:
							patches++
							switch patches {
							case 1:
								mu.Unlock()
								w.Header().Set("Content-Type", "application/json")
								w.WriteHeader(http.StatusNotFound)
								w.Write([]byte(`{"errors":[{"code":"BLOB_UPLOAD_INVALID","message":"blob upload invalid"}]}`))
								return
							case 2:
								refused = r.URL.Path
								mu.Unlock()
								http.Error(w, "404 page not found", http.StatusNotFound)
								return
							}
						}
						mu.Unlock()
					}
					next.ServeHTTP(w, r)
				})
			})
			repo := "stellaops/refused-session-" + strings.ToLower(name)
			u := chunkedUploader(t, host+"/"+repo)
			data := randomBytes(5<<20+11, 240)
			if err := push(t, u, data); err != nil {
				t.Fatalf("%s: %v", name, err)
			}
			mu.Lock()
			defer mu.Unlock()
			if patches < 3 || refused == "" {
				t.Fatalf("%d PATCHes, want the lost one, the refused one, then more", patches)
			}
			if !canceled[refused] {
				t.Errorf("the session whose PATCH was refused (%s) was never cancelled; cancelled: %v", refused, canceled)
			}
		})
	}
}
