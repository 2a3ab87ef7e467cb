package remote_test

import (
	"net"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/stellaops/mirror/pkg/remote"
)

// TestIdleConnectionsFollowConnections sends two waves of 64 requests at
// once to one host with Connections 64, as --concurrency 64 does: the
// second wave reuses the first's connections. Only 32 were kept idle, so
// each wave after the first dialled 32 connections again.
func TestIdleConnectionsFollowConnections(t *testing.T) {
	const n = 64
	var dials atomic.Int64
	var mu sync.Mutex
	arrived := 0
	release := make(chan struct{})
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// Every request of a wave waits for the others, so that each
		// holds a connection of its own.
		mu.Lock()
		arrived++
		last := arrived%n == 0
		if last {
			close(release)
			release = make(chan struct{})
		}
		wait := release
		mu.Unlock()
		if !last {
			<-wait
		}
		w.WriteHeader(http.StatusOK)
	}))
	srv.Config.ConnState = func(_ net.Conn, s http.ConnState) {
		if s == http.StateNew {
			dials.Add(1)
		}
	}
	srv.Start()
	t.Cleanup(srv.Close)
	client, err := remote.New(remote.Options{PlainHTTP: true, Retries: -1, Connections: n})
	if err != nil {
		t.Fatal(err)
	}
	for range 2 {
		var wg sync.WaitGroup
		for range n {
			wg.Add(1)
			go func() {
				defer wg.Done()
				resp := get(t, client, srv.URL+"/v2/")
				resp.Body.Close()
			}()
		}
		wg.Wait()
	}
	if d := dials.Load(); d > n {
		t.Errorf("two waves of %d requests dialled %d connections; want %d", n, d, n)
	}
}
