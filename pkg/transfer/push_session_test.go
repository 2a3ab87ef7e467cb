package transfer_test

import (
	"bytes"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stellaops/mirror/internal/testutil"
	"github.com/stellaops/mirror/pkg/transfer"
)

// refusingContent is a proxy in front of the registry at reg that answers
// 503 to every request carrying upload content (a registry whose storage
// keeps failing) and, with noStatus, 405 to every upload status request (a
// registry that cannot report an upload's state); it forwards the rest. It
// records the Location of every upload session the registry opened.
func refusingContent(t *testing.T, reg string, noStatus bool) (host string, sessions func() []string) {
	t.Helper()
	u, _ := url.Parse("http://" + reg)
	rp := httputil.NewSingleHostReverseProxy(u)
	var mu sync.Mutex
	var opened []string
	rp.ModifyResponse = func(resp *http.Response) error {
		if resp.Request.Method == http.MethodPost && resp.StatusCode == http.StatusAccepted {
			mu.Lock()
			opened = append(opened, resp.Header.Get("Location"))
			mu.Unlock()
		}
		return nil
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if (r.Method == http.MethodPatch || r.Method == http.MethodPut) && r.ContentLength > 0 && strings.Contains(r.URL.Path, "/blobs/uploads/") {
			http.Error(w, `{"errors":[{"code":"UNAVAILABLE","message":"injected"}]}`, http.StatusServiceUnavailable)
			return
		}
		if noStatus && r.Method == http.MethodGet && strings.Contains(r.URL.Path, "/blobs/uploads/") {
			http.Error(w, `{"errors":[{"code":"UNSUPPORTED","message":"injected"}]}`, http.StatusMethodNotAllowed)
			return
		}
		rp.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	return strings.TrimPrefix(srv.URL, "http://"), func() []string {
		mu.Lock()
		defer mu.Unlock()
		return append([]string(nil), opened...)
	}
}

// A push that fails leaves no upload session open on the registry (the
// Uploader's own promise: "its upload session is cancelled"). When the
// registry reports an empty session after a fault, send starts over in a
// fresh session that the caller never learned of; once the attempts ran
// out, Push and PushAt cancelled only the session they opened (already
// cancelled by send), and the last fresh one stayed open on the registry.
// A registry that cannot report an upload's state at all has send start
// over too: the session it leaves is cancelled as well.
func TestFailedPushCancelsItsSession(t *testing.T) {
	reg := testutil.Distribution(t)
	client := testutil.Client(t)
	data := randomBytes(100<<10, 61)
	desc := blobDesc(data)
	for _, noStatus := range []bool{false, true} {
		host, sessions := refusingContent(t, reg, noStatus)
		up, err := client.UploadRepository(host + "/stellaops/leak")
		if err != nil {
			t.Fatal(err)
		}
		u := &transfer.Uploader{Repo: up, ChunkSize: 1 << 20, Backoff: time.Millisecond, Attempts: 3}
		for name, push := range map[string]func() error{
			"Push":   func() error { return u.Push(t.Context(), desc, bytes.NewReader(data)) },
			"PushAt": func() error { return u.PushAt(t.Context(), desc, bytes.NewReader(data)) },
		} {
			name = fmt.Sprintf("%s (no status: %v)", name, noStatus)
			before := len(sessions())
			if err := push(); err == nil {
				t.Fatalf("%s: a registry refusing all content took the blob", name)
			}
			opened := sessions()[before:]
			if len(opened) < 2 {
				t.Fatalf("%s: %d upload sessions opened, want the first and those started over in", name, len(opened))
			}
			for _, loc := range opened {
				// Asked of the registry itself: is the session still open?
				target, _ := url.Parse("http://" + reg)
				target, _ = target.Parse(loc)
				target.Host = reg
				resp, err := client.HTTPClient().Get(target.String())
				if err != nil {
					t.Fatal(err)
				}
				resp.Body.Close()
				if resp.StatusCode != http.StatusNotFound {
					t.Errorf("%s: upload session %s still open after the push failed (status %d)", name, target.Path, resp.StatusCode)
				}
			}
		}
	}
}
