package serve_test

import (
	"bytes"
	"log/slog"
	"net/http"
	"strings"
	"testing"

	"github.com/stellaops/mirror/pkg/serve"
)

// TestBlobLostByStoreIsServerError: a blob a repository holds that the
// store no longer finds (a bundle directory changed under the server) is
// the server's failure, answered 500 and logged with its digest, never
// the silent 404 BLOB_UNKNOWN a client reads as a blob never pushed.
func TestBlobLostByStoreIsServerError(t *testing.T) {
	f := newFixture(t)
	var logs bytes.Buffer
	srv := f.server(t, serve.Options{Logger: slog.New(slog.NewTextHandler(&logs, nil))})
	delete(f.store, f.layerA.Digest)

	resp, body := do(t, "GET", srv.URL+"/v2/library/app/blobs/"+f.layerA.Digest.String(), nil)
	if resp.StatusCode != http.StatusInternalServerError {
		t.Errorf("blob lost by the store: %s %s, want 500", resp.Status, body)
	}
	if !strings.Contains(logs.String(), f.layerA.Digest.String()) {
		t.Errorf("log does not name %s: %q", f.layerA.Digest, logs.String())
	}
	resp, body = do(t, "GET", srv.URL+"/v2/other/repo/blobs/"+f.layerA.Digest.String(), nil)
	if resp.StatusCode != http.StatusNotFound {
		t.Errorf("blob the repository never held: %s %s, want 404", resp.Status, body)
	}
}
