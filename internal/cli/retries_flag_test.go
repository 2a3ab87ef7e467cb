package cli

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
)

// TestRetriesZeroRetriesNothing: --retries 0 is documented to retry
// nothing, but the registry client took its zero as "the default" and
// retried each request 5 times, some 6 seconds of backoff against a
// registry that is down, as with no flag at all. A registry answering 503
// now gets one request with --retries 0, and N+1 with --retries N.
func TestRetriesZeroRetriesNothing(t *testing.T) {
	for _, tt := range []struct {
		retries string
		want    int64
	}{
		{"0", 1},
		{"1", 2},
	} {
		var hits atomic.Int64
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.URL.Path == "/v2/" {
				hits.Add(1)
			}
			w.WriteHeader(http.StatusServiceUnavailable)
		}))
		host := strings.TrimPrefix(srv.URL, "http://")
		code, _, stderr := run(t, "mirror", "doctor", "--registry", host, "--plain-http", "--retries", tt.retries)
		srv.Close()
		if code != ExitInput {
			t.Errorf("--retries %s: exit %d, stderr %q", tt.retries, code, stderr)
		}
		if got := hits.Load(); got != tt.want {
			t.Errorf("--retries %s: the registry got %d requests of /v2/, want %d", tt.retries, got, tt.want)
		}
	}
}
