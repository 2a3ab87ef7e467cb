package remote_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stellaops/mirror/pkg/errdef"
	"github.com/stellaops/mirror/pkg/remote"
)

// TestClassifyTwiceTokenRefusal: a token service refusing the run (no
// credentials, anonymous access denied) is told as its refusal however
// often the error is classified, as pkg/mirror classifies it once to ask
// whether it is a 404 and once more to report it (a sync's listing of the
// destination's tags). The first Classify dropped the token request's
// query (service, scope) from the error, and the second, missing it, took
// the token service for the registry's storage: "the registry sent the
// request on to its storage at TOKENHOST, which refused it: ... not the
// credentials stella sends" (found by review).
func TestClassifyTwiceTokenRefusal(t *testing.T) {
	tokens := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusUnauthorized)
		_, _ = w.Write([]byte(`{"errors":[{"code":"UNAUTHORIZED","message":"bad credentials"}]}`))
	}))
	defer tokens.Close()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("WWW-Authenticate", `Bearer realm="`+tokens.URL+`/token",service="registry",scope="repository:app/one:pull"`)
		w.WriteHeader(http.StatusUnauthorized)
	}))
	defer srv.Close()
	host := strings.TrimPrefix(srv.URL, "http://")
	tokenHost := strings.TrimPrefix(tokens.URL, "http://")
	config := filepath.Join(t.TempDir(), "config.json")
	if err := os.WriteFile(config, []byte("{}"), 0o600); err != nil {
		t.Fatal(err)
	}
	client, err := remote.New(remote.Options{PlainHTTPHosts: []string{host}, ConfigFile: config, Retries: 1})
	if err != nil {
		t.Fatal(err)
	}
	repo, err := client.Repository(host + "/app/one")
	if err != nil {
		t.Fatal(err)
	}
	raw := repo.Tags(context.Background(), "", func([]string) error { return nil })
	want := "its token service at " + tokenHost + " refused"
	for i := 1; i <= 2; i++ {
		err := remote.Classify(raw)
		if !errors.Is(err, errdef.ErrUnavailable) || !strings.Contains(err.Error(), want) || strings.Contains(err.Error(), "storage") {
			t.Errorf("Classify #%d: %v; want the token service's refusal (%s)", i, err, want)
		}
	}
}
