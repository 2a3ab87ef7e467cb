package remote_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stellaops/mirror/pkg/remote"
)

// get is a GET that fails the test, instead of hanging it, if the client
// never gives up on a stalled answer.
func get(t *testing.T, c *remote.Client, url string) *http.Response {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), testDeadline)
	t.Cleanup(cancel)
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := c.HTTPClient().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { resp.Body.Close() })
	return resp
}

// testDeadline bounds each request of these tests.
const testDeadline = 30 * time.Second

// idleClient is a client that drops a request after 200ms without a byte
// moving, and retries twice.
func idleClient(t *testing.T) *remote.Client {
	t.Helper()
	c, err := remote.New(remote.Options{PlainHTTP: true, Retries: 2, IdleTimeout: 200 * time.Millisecond, ConfigFile: t.TempDir() + "/config.json"})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// stallingServer answers every GET with body; the first answer stops after
// its first MiB and sends nothing more until the client goes away.
func stallingServer(t *testing.T, body []byte) (*httptest.Server, *atomic.Int64) {
	t.Helper()
	var requests atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Length", strconv.Itoa(len(body)))
		if requests.Add(1) == 1 {
			w.Write(body[:1<<20])
			w.(http.Flusher).Flush()
			select {
			case <-r.Context().Done():
			case <-t.Context().Done():
			}
			return
		}
		w.Write(body)
	}))
	t.Cleanup(srv.Close)
	return srv, &requests
}

// An answer that stops mid-body fails the request instead of hanging the
// command: a small one (read whole by the client) is retried at once.
func TestStalledAnswerIsRetried(t *testing.T) {
	body := bytes.Repeat([]byte("s"), 2<<20)
	srv, requests := stallingServer(t, body)
	resp := get(t, idleClient(t), srv.URL+"/v2/")
	got, err := io.ReadAll(resp.Body)
	if err != nil || !bytes.Equal(got, body) {
		t.Fatalf("read %d bytes (%v), want %d", len(got), err, len(body))
	}
	if n := requests.Load(); n != 2 {
		t.Errorf("%d requests, want the stalled one and its retry", n)
	}
}

// A streamed answer that stops reaches its reader as a transient
// StallError (a blob copy then retries the blob), and time the reader
// spends between reads is not counted as the registry's.
func TestStalledStreamFailsTransient(t *testing.T) {
	body := bytes.Repeat([]byte("s"), 8<<20)
	srv, _ := stallingServer(t, body)
	c := idleClient(t)
	got, err := io.ReadAll(get(t, c, srv.URL+"/v2/").Body)
	var stall *remote.StallError
	if !errors.As(err, &stall) || !remote.IsTransient(err) || len(got) != 1<<20 {
		t.Fatalf("read %d bytes, error %v: want a transient StallError after 1 MiB", len(got), err)
	}

	// The second answer is whole: a reader slower than the timeout between
	// its reads is not dropped.
	resp := get(t, c, srv.URL+"/v2/")
	buf := make([]byte, 1<<20)
	if _, err := io.ReadFull(resp.Body, buf); err != nil {
		t.Fatal(err)
	}
	time.Sleep(300 * time.Millisecond) // a slow consumer, not synchronisation
	rest, err := io.ReadAll(resp.Body)
	if err != nil || len(rest) != len(body)-len(buf) {
		t.Fatalf("after a pause the reader got %d more bytes (%v)", len(rest), err)
	}
}

// A registry that stops reading an upload fails the request; the client
// sends it again (its body can be read again) and the second goes through.
func TestStalledUploadIsRetried(t *testing.T) {
	body := bytes.Repeat([]byte("u"), 64<<20)
	var requests atomic.Int64
	var received atomic.Int64
	// The server notices a client gone only once it reads again: the
	// stalled handler waits for the retry instead.
	retried := make(chan struct{})
	var once sync.Once
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if requests.Add(1) == 1 {
			io.CopyN(io.Discard, r.Body, 1<<20)
			select {
			case <-retried:
			case <-t.Context().Done():
			}
			return
		}
		once.Do(func() { close(retried) })
		n, _ := io.Copy(io.Discard, r.Body)
		received.Store(n)
		w.WriteHeader(http.StatusCreated)
	}))
	t.Cleanup(srv.Close)
	ctx, cancel := context.WithTimeout(t.Context(), testDeadline)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPut, srv.URL+"/v2/upload", bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	resp, err := idleClient(t).HTTPClient().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusCreated || received.Load() != int64(len(body)) || requests.Load() != 2 {
		t.Fatalf("status %d, %d requests, last received %d bytes of %d", resp.StatusCode, requests.Load(), received.Load(), len(body))
	}
}

// An answer that trickles (a byte every 40 ms against a 200 ms timeout:
// never silent for the timeout, never moving) was read on without end: a
// source trickling a manifest's bytes held create past 400 s (found by
// review). The clock now starts again only once 16 KiB came: the answer
// is dropped as stalled, and every retry of it too, well within the test's
// deadline. An answer that moves, however it is cut into reads, is not.
func TestTricklingAnswerIsDropped(t *testing.T) {
	var requests atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		requests.Add(1)
		w.Header().Set("Content-Length", strconv.Itoa(1<<20))
		tick := time.NewTicker(40 * time.Millisecond)
		defer tick.Stop()
		for range 1 << 20 {
			select {
			case <-tick.C:
			case <-r.Context().Done():
				return
			}
			w.Write([]byte("t"))
			w.(http.Flusher).Flush()
		}
	}))
	t.Cleanup(srv.Close)
	ctx, cancel := context.WithTimeout(t.Context(), testDeadline)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, srv.URL+"/v2/", nil)
	if err != nil {
		t.Fatal(err)
	}
	// Read whole by the client (it is small), so it fails in Do.
	resp, err := idleClient(t).HTTPClient().Do(req)
	if err == nil {
		_, err = io.ReadAll(resp.Body)
		resp.Body.Close()
	}
	var stall *remote.StallError
	if !errors.As(err, &stall) || !remote.IsTransient(err) || ctx.Err() != nil {
		t.Fatalf("trickled answer: %v: want a transient StallError before the test's deadline", err)
	}
	if n := requests.Load(); n != 3 {
		t.Errorf("%d requests, want the first and its two retries", n)
	}
}
