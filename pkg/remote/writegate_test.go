package remote_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/stellaops/mirror/pkg/remote"
)

// A request made with a context from HoldWrites goes at once if it reads,
// and waits at the gate if it writes: it is sent once the gate opens, and
// never if the gate refuses.
func TestWritesWaitAtTheGate(t *testing.T) {
	var reads, writes atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodGet || r.Method == http.MethodHead {
			reads.Add(1)
		} else {
			writes.Add(1)
		}
		w.WriteHeader(http.StatusAccepted)
	}))
	t.Cleanup(srv.Close)
	host := strings.TrimPrefix(srv.URL, "http://")
	c, err := remote.New(remote.Options{PlainHTTP: true})
	if err != nil {
		t.Fatal(err)
	}
	repo, err := c.Repository(host + "/team/app")
	if err != nil {
		t.Fatal(err)
	}
	do := func(ctx context.Context, method string) error {
		req, err := http.NewRequestWithContext(ctx, method, srv.URL+"/v2/team/app/blobs/uploads/", nil)
		if err != nil {
			t.Fatal(err)
		}
		resp, err := repo.Client.Do(req)
		if err == nil {
			resp.Body.Close()
		}
		return err
	}

	gate := remote.NewWriteGate()
	ctx := remote.HoldWrites(t.Context(), gate)
	if err := do(ctx, http.MethodHead); err != nil || reads.Load() != 1 {
		t.Fatalf("a read before the gate opens: %v, %d reads; want it sent", err, reads.Load())
	}
	sent := make(chan error, 1)
	go func() { sent <- do(ctx, http.MethodPost) }()
	select {
	case err := <-sent:
		t.Fatalf("a write went before the gate opened: %v", err)
	default:
	}
	gate.Open(nil)
	if err := <-sent; err != nil || writes.Load() != 1 {
		t.Fatalf("the write once the gate opened: %v, %d writes; want it sent", err, writes.Load())
	}

	refused := errors.New("bundle older than the one held")
	closed := remote.NewWriteGate()
	closed.Open(refused)
	ctx = remote.HoldWrites(t.Context(), closed)
	for _, m := range []string{http.MethodPost, http.MethodPut, http.MethodPatch, http.MethodDelete} {
		if err := do(ctx, m); !errors.Is(err, refused) {
			t.Errorf("%s at a gate that refuses: %v, want its error", m, err)
		}
	}
	if err := do(ctx, http.MethodGet); err != nil {
		t.Errorf("a read at a gate that refuses: %v, want it sent", err)
	}
	if n := writes.Load(); n != 1 {
		t.Errorf("%d writes reached the registry, want only the one the open gate let through", n)
	}
	// Without a gate nothing waits.
	if err := do(t.Context(), http.MethodPost); err != nil || writes.Load() != 2 {
		t.Errorf("a write without a gate: %v, %d writes", err, writes.Load())
	}
}
