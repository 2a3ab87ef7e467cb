package remote_test

import (
	"bytes"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/stellaops/mirror/internal/testutil"
	"github.com/stellaops/mirror/pkg/remote"
)

// A small answer cut short (a manifest, a tag list) is retried like any
// other transient fault. It used to reach the caller as "unexpected EOF",
// which nothing retried: create and sync failed on the first one.
func TestShortAnswerIsRetried(t *testing.T) {
	body, proxy, c := truncatingServer(t)
	resp, err := c.HTTPClient().Get("http://" + proxy.Host + "/v2/")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	got, err := io.ReadAll(resp.Body)
	if err != nil || !bytes.Equal(got, body) {
		t.Fatalf("read %d bytes (%v), want %d", len(got), err, len(body))
	}
	if proxy.InjectedOf(testutil.FaultTruncate) != 1 {
		t.Errorf("%d truncations", proxy.InjectedOf(testutil.FaultTruncate))
	}
}

// A blob copy reads its answer as a stream, whatever its size, and retries
// a body cut short itself (from the blob's start): the client hands the
// answer on without reading it whole first, so the cut reaches the reader.
func TestStreamingAnswerIsHandedOn(t *testing.T) {
	body, proxy, c := truncatingServer(t)
	req, err := http.NewRequestWithContext(remote.Streaming(t.Context()), http.MethodGet, "http://"+proxy.Host+"/v2/", nil)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := c.HTTPClient().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	got, err := io.ReadAll(resp.Body)
	if err == nil || len(got) >= len(body) {
		t.Fatalf("read %d bytes (%v), want the cut to reach the reader", len(got), err)
	}
	if proxy.InjectedOf(testutil.FaultTruncate) != 1 {
		t.Errorf("%d truncations", proxy.InjectedOf(testutil.FaultTruncate))
	}
}

// truncatingServer answers every request with 1000 bytes, behind a proxy
// that cuts the first answer short; the client retries twice.
func truncatingServer(t *testing.T) ([]byte, *testutil.FaultProxy, *remote.Client) {
	t.Helper()
	body := bytes.Repeat([]byte("x"), 1000)
	upstream := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.Write(body) }))
	t.Cleanup(upstream.Close)
	proxy := testutil.NewFaultProxy(t, strings.TrimPrefix(upstream.URL, "http://"), testutil.FaultTruncate, testutil.FaultNone)
	c, err := remote.New(remote.Options{PlainHTTP: true, Retries: 2, ConfigFile: t.TempDir() + "/config.json"})
	if err != nil {
		t.Fatal(err)
	}
	return body, proxy, c
}
