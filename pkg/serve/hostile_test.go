package serve_test

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/stellaops/mirror/pkg/serve"
)

// TestHostileRequests sends what a hostile or broken client might: names
// that try to escape, bad digests, absurd pagination, writes. Each gets the
// spec's status and error code, with a JSON body.
func TestHostileRequests(t *testing.T) {
	f := newFixture(t)
	h := serve.NewHandler(f.content, serve.Options{})
	layer := f.layerA.Digest.String()
	long := strings.Repeat("a", 256)
	tests := []struct {
		method, target string
		status         int
		code           string
	}{
		{"GET", "/v2/../../etc/passwd/manifests/latest", 400, "NAME_INVALID"},
		{"GET", "/v2/%2e%2e/%2e%2e/etc/blobs/" + layer, 400, "NAME_INVALID"},
		{"GET", "/v2/library/..%2f..%2fetc/blobs/" + layer, 400, "NAME_INVALID"},
		{"GET", "/v2/library/app/manifests/..%2f..%2fetc%2fpasswd", 404, "UNSUPPORTED"},
		{"GET", "/v2/library/app/manifests/%2e%2e", 404, "MANIFEST_UNKNOWN"},
		{"GET", "/v2//library/app/tags/list", 400, "NAME_INVALID"},
		{"GET", "/v2/Library/App/tags/list", 400, "NAME_INVALID"},
		{"GET", "/v2/" + long + "/tags/list", 400, "NAME_INVALID"},
		{"GET", "/v2/library/app%00/tags/list", 400, "NAME_INVALID"},
		{"GET", "/v2/nope/manifests/latest", 404, "NAME_UNKNOWN"},
		{"GET", "/v2/library/app/manifests/nope", 404, "MANIFEST_UNKNOWN"},
		{"GET", "/v2/library/app/manifests/-bad-tag", 404, "MANIFEST_UNKNOWN"},
		{"GET", "/v2/library/app/manifests/" + f.config.Digest.String(), 404, "MANIFEST_UNKNOWN"},
		{"GET", "/v2/library/app/manifests/sha256:baddigeststring", 400, "DIGEST_INVALID"},
		{"GET", "/v2/library/app/blobs/sha256:../../../../etc/passwd", 404, "UNSUPPORTED"},
		{"GET", "/v2/library/app/blobs/sha256:..%2f..%2fetc", 404, "UNSUPPORTED"},
		{"GET", "/v2/library/app/blobs/..", 400, "DIGEST_INVALID"},
		{"GET", "/v2/library/app/blobs/sha256:abc", 400, "DIGEST_INVALID"},
		{"GET", "/v2/library/app/blobs/" + strings.ToUpper(layer), 400, "DIGEST_INVALID"},
		{"GET", "/v2/library/app/blobs/md5:d41d8cd98f00b204e9800998ecf8427e", 404, "BLOB_UNKNOWN"},
		{"GET", "/v2/library/app/blobs/" + digest.FromString("absent").String(), 404, "BLOB_UNKNOWN"},
		{"GET", "/v2/other/repo/blobs/" + layer, 404, "BLOB_UNKNOWN"},
		{"GET", "/v2/other/repo/manifests/" + f.index.Digest.String(), 404, "MANIFEST_UNKNOWN"},
		{"GET", "/v2/library/app/tags/list?n=-1", 400, "PAGINATION_NUMBER_INVALID"},
		{"GET", "/v2/library/app/tags/list?n=ten", 400, "PAGINATION_NUMBER_INVALID"},
		{"GET", "/v2/library/app/tags/list?n=1e9", 400, "PAGINATION_NUMBER_INVALID"},
		{"GET", "/v2/_catalog?n=-99999999999999999999", 400, "PAGINATION_NUMBER_INVALID"},
		{"GET", "/v2/library/app/referrers/notadigest", 400, "DIGEST_INVALID"},
		{"GET", "/v2/library/app/referrers/sha256:123", 400, "DIGEST_INVALID"},
		{"GET", "/etc/passwd", 404, "UNSUPPORTED"},
		{"GET", "/v2/library/app", 404, "UNSUPPORTED"},
		{"PUT", "/v2/library/app/manifests/v1", 405, "UNSUPPORTED"},
		{"DELETE", "/v2/library/app/manifests/" + f.index.Digest.String(), 405, "UNSUPPORTED"},
		{"DELETE", "/v2/library/app/blobs/" + layer, 405, "UNSUPPORTED"},
		{"POST", "/v2/library/app/blobs/uploads/", 405, "UNSUPPORTED"},
		{"POST", "/v2/library/app/blobs/uploads/?mount=" + layer + "&from=other/repo", 405, "UNSUPPORTED"},
		{"PATCH", "/v2/library/app/blobs/uploads/0c6b2c1f", 405, "UNSUPPORTED"},
		{"PUT", "/v2/library/app/blobs/uploads/0c6b2c1f?digest=" + layer, 405, "UNSUPPORTED"},
		{"GET", "/v2/library/app/blobs/uploads/0c6b2c1f", 405, "UNSUPPORTED"},
		{"POST", "/v2/../../x/blobs/uploads/", 405, "UNSUPPORTED"},
		{"OPTIONS", "/v2/library/app/tags/list", 405, "UNSUPPORTED"},
		{"TRACE", "/v2/", 405, "UNSUPPORTED"},
	}
	for _, tt := range tests {
		t.Run(tt.method+" "+tt.target, func(t *testing.T) {
			req := httptest.NewRequest(tt.method, tt.target, nil)
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, req)
			var body struct {
				Errors []struct{ Code, Message string }
			}
			if rec.Code != tt.status {
				t.Errorf("status %d, want %d (%s)", rec.Code, tt.status, rec.Body)
			}
			if err := json.Unmarshal(rec.Body.Bytes(), &body); err != nil || len(body.Errors) != 1 || body.Errors[0].Code != tt.code {
				t.Errorf("body %s, want code %s", rec.Body, tt.code)
			}
			if rec.Header().Get("Content-Type") != "application/json" || rec.Header().Get("Docker-Content-Digest") != "" {
				t.Errorf("headers %v", rec.Header())
			}
			if tt.status == 405 && !strings.Contains(tt.target, "/uploads") && rec.Header().Get("Allow") != "GET, HEAD" {
				t.Errorf("405 without Allow: %v", rec.Header())
			}
		})
	}
}

// panicking is a Source that fails in the worst way.
type panicking struct{ serve.Source }

func (panicking) Tags(string) ([]string, bool) { panic("source bug") }

func TestHandlerRecoversFromPanics(t *testing.T) {
	f := newFixture(t)
	h := serve.NewHandler(panicking{f.content}, serve.Options{})
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest("GET", "/v2/library/app/tags/list", nil))
	if rec.Code != 500 || !strings.Contains(rec.Body.String(), `"UNKNOWN"`) {
		t.Fatalf("%d %s", rec.Code, rec.Body)
	}
}

// failing is a BlobStore whose media went away.
type failing struct{}

func (failing) OpenBlob(context.Context, ocispec.Descriptor) (serve.Blob, error) {
	return nil, errors.New("/media/usb/bundle.tar: input/output error")
}

func TestStoreErrorsDoNotLeak(t *testing.T) {
	f := newFixture(t)
	c := serve.NewContent(failing{})
	if err := c.AddManifest(f.image1, f.docs[f.image1.Digest]); err != nil {
		t.Fatal(err)
	}
	if err := c.Include("r", f.image1.Digest); err != nil {
		t.Fatal(err)
	}
	rec := httptest.NewRecorder()
	serve.NewHandler(c, serve.Options{}).ServeHTTP(rec, httptest.NewRequest("GET", "/v2/r/blobs/"+f.layerA.Digest.String(), nil))
	if rec.Code != 500 || strings.Contains(rec.Body.String(), "/media") {
		t.Fatalf("%d %s", rec.Code, rec.Body)
	}
}

// startServer runs Serve on a loopback port until the test ends.
func startServer(t *testing.T, h http.Handler, opts serve.ServerOptions) (string, context.CancelFunc, <-chan error) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	stopped := make(chan struct{})
	go func() {
		defer close(stopped)
		done <- serve.Serve(ctx, ln, h, opts)
	}()
	t.Cleanup(func() {
		cancel()
		<-stopped
	})
	return ln.Addr().String(), cancel, done
}

func TestServerRefusesHugeHeaders(t *testing.T) {
	f := newFixture(t)
	addr, _, _ := startServer(t, serve.NewHandler(f.content, serve.Options{}), serve.ServerOptions{})
	for _, tt := range []struct {
		name string
		req  string
	}{
		{"one huge header", "GET /v2/ HTTP/1.1\r\nHost: x\r\nX-Big: " + strings.Repeat("a", 2*serve.MaxHeaderBytes) + "\r\n\r\n"},
		{"many headers", "GET /v2/ HTTP/1.1\r\nHost: x\r\n" + strings.Repeat("X-H: aaaaaaaaaaaaaaaa\r\n", serve.MaxHeaderBytes/8) + "\r\n"},
		{"huge path", "GET /v2/" + strings.Repeat("a/", serve.MaxHeaderBytes) + "tags/list HTTP/1.1\r\nHost: x\r\n\r\n"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			conn, err := net.Dial("tcp", addr)
			if err != nil {
				t.Fatal(err)
			}
			defer conn.Close()
			conn.SetDeadline(time.Now().Add(10 * time.Second))
			go io.WriteString(conn, tt.req) // the server may answer before reading it all
			resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != http.StatusRequestHeaderFieldsTooLarge {
				t.Errorf("status %s, want 431", resp.Status)
			}
		})
	}
	// The server still serves.
	resp, _ := do(t, "GET", "http://"+addr+"/v2/", nil)
	if resp.StatusCode != 200 {
		t.Fatalf("after hostile requests: %s", resp.Status)
	}
}

// TestConcurrentPullsAndShutdown pulls one blob from many clients at once,
// each reading a different range, then shuts the server down.
func TestConcurrentPullsAndShutdown(t *testing.T) {
	f := newFixture(t)
	addr, cancel, done := startServer(t, serve.NewHandler(f.content, serve.Options{}), serve.ServerOptions{})
	data := f.store[f.layerA.Digest]
	url := "http://" + addr + "/v2/library/app/blobs/" + f.layerA.Digest.String()
	// Connections a client dials but never uses count as busy for five
	// seconds at shutdown (net/http); this client closes its own.
	tr := &http.Transport{}
	client := &http.Client{Transport: tr}
	var wg sync.WaitGroup
	errs := make(chan error, 64)
	for i := range 64 {
		wg.Go(func() {
			start := 0
			req, _ := http.NewRequest("GET", url, nil)
			if i%2 == 1 {
				start = i * 1000
				req.Header.Set("Range", fmt.Sprintf("bytes=%d-", start))
			}
			resp, err := client.Do(req)
			if err != nil {
				errs <- err
				return
			}
			defer resp.Body.Close()
			body, err := io.ReadAll(resp.Body)
			if err != nil || string(body) != string(data[start:]) {
				errs <- fmt.Errorf("client %d: %d bytes (%v)", i, len(body), err)
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	tr.CloseIdleConnections()
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("Serve after cancel: %v", err)
		}
	case <-time.After(15 * time.Second):
		t.Fatal("Serve did not shut down")
	}
}
