package mirror_test

import (
	"bytes"
	"context"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stellaops/mirror/internal/sample"
	"github.com/stellaops/mirror/pkg/mirror"
	"github.com/stellaops/mirror/pkg/serve"
)

// TestServeDirBlobGoneIsLoggedServerError: an operator serving a bundle
// directory that loses a blob file after serve verified it (the directory
// replaced by create --force, a blob file removed) must see it in the log,
// naming the digest and the file and saying to restart, as a served tar
// written to is; clients get a 500, not the 404 BLOB_UNKNOWN of a blob the
// registry never held, which was answered without a word.
func TestServeDirBlobGoneIsLoggedServerError(t *testing.T) {
	f := newServedSample(t, sample.Spec{})
	dir := copyBundle(t, f.dir)
	b, err := mirror.OpenServed(context.Background(), f.serveOpts(dir))
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	var logs bytes.Buffer
	logger := slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelWarn}))
	srv := httptest.NewServer(serve.NewHandler(b.Content, serve.Options{Logger: logger}))
	defer srv.Close()

	layer := largestBlob(t, dir)
	dg := "sha256:" + filepath.Base(layer)
	repo := repositoryHolding(t, f, dg)
	if err := os.Remove(layer); err != nil {
		t.Fatal(err)
	}
	resp, err := http.Get(srv.URL + "/v2/" + repo + "/blobs/" + dg)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusInternalServerError {
		t.Errorf("GET of a verified blob whose file is gone: %s, want 500 (not BLOB_UNKNOWN: the registry holds it)", resp.Status)
	}
	for _, want := range []string{dg, layer, "restart"} {
		if !strings.Contains(logs.String(), want) {
			t.Errorf("log does not name %q; logs: %q", want, logs.String())
		}
	}
}

// repositoryHolding returns the repository of f's release whose image
// holds the blob dg.
func repositoryHolding(t *testing.T, f *servedSample, dg string) string {
	t.Helper()
	for _, img := range f.rel.Images {
		for d := range img.Blobs {
			if d.String() == dg {
				return img.Repository
			}
		}
	}
	t.Fatalf("no image holds %s", dg)
	return ""
}
