package remote_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/stellaops/mirror/internal/testutil"
	"github.com/stellaops/mirror/pkg/remote"
)

// A hosted registry that limits its clients (429) or is in a failover
// (503) says with Retry-After, in seconds or as an HTTP-date, when to come
// back, and refuses a client that comes back earlier. The client waits as
// long as it is told (up to remote.MaxRetryAfter), so one retry is enough;
// it used to wait at most 3 seconds whatever the registry said, and to
// ignore an HTTP-date or a 503's Retry-After altogether, spending its
// retries on refusals and failing the run.
func TestRetryAfterHonoured(t *testing.T) {
	for _, tt := range []struct {
		name     string
		status   int
		httpDate bool
	}{
		{"429 seconds", http.StatusTooManyRequests, false},
		{"429 HTTP-date", http.StatusTooManyRequests, true},
		{"503 seconds", http.StatusServiceUnavailable, false},
		{"503 HTTP-date", http.StatusServiceUnavailable, true},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			limit := &testutil.RateLimit{Status: tt.status, Wait: 4 * time.Second, HTTPDate: tt.httpDate,
				Match: func(r *http.Request) bool {
					return r.Method == http.MethodGet && strings.Contains(r.URL.Path, "/blobs/")
				}}
			host := testutil.RegistryWrapped(t, limit.Wrap)
			data := []byte("a blob behind a rate limit")
			desc := ocispec.Descriptor{MediaType: "application/octet-stream", Digest: digest.FromBytes(data), Size: int64(len(data))}
			client := testutil.ClientWith(t, remote.Options{Retries: 1})
			repo, err := client.Repository(host + "/stellaops/limited")
			if err != nil {
				t.Fatal(err)
			}
			if err := repo.Blobs().Push(t.Context(), desc, bytes.NewReader(data)); err != nil {
				t.Fatal(err)
			}
			rc, err := repo.Blobs().Fetch(t.Context(), desc)
			if err != nil {
				t.Fatalf("fetch after %d refusals: %v", limit.Refused.Load(), err)
			}
			defer rc.Close()
			if got, err := io.ReadAll(rc); err != nil || !bytes.Equal(got, data) {
				t.Fatalf("fetched %q (%v)", got, err)
			}
			if limit.Refused.Load() != 1 {
				t.Errorf("refused %d times, want once", limit.Refused.Load())
			}
		})
	}
}

// A wait a registry asks for ends as soon as the run is interrupted.
func TestRetryAfterInterrupted(t *testing.T) {
	ctx, cancel := context.WithCancel(t.Context())
	var once sync.Once
	limit := &testutil.RateLimit{Status: http.StatusTooManyRequests, Wait: time.Hour,
		Match: func(r *http.Request) bool {
			// Interrupted as the registry answers: the client is then
			// about to wait, or waiting.
			defer once.Do(cancel)
			return true
		}}
	host := testutil.RegistryWrapped(t, limit.Wrap)
	repo, err := testutil.ClientWith(t, remote.Options{Retries: 3}).Repository(host + "/stellaops/limited")
	if err != nil {
		t.Fatal(err)
	}
	if _, err = repo.Resolve(ctx, "v1"); !errors.Is(err, context.Canceled) || limit.Refused.Load() != 1 {
		t.Fatalf("resolve interrupted during a wait, after %d refusals: %v", limit.Refused.Load(), err)
	}
}
