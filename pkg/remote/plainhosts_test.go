package remote_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/stellaops/mirror/internal/testutil"
	"github.com/stellaops/mirror/pkg/errdef"
	"github.com/stellaops/mirror/pkg/remote"
)

// TestPlainHTTPHostCredentialsNotToTokenService: a registry named in
// PlainHTTPHosts (--plain-http-host) whose token service is on another
// host in plain HTTP (docker_auth beside the registry, another port):
// oras-go takes an http realm of a registry asked in plain HTTP, and sent
// the registry's credentials there unencrypted, to a host the operator
// never named. The request is refused, naming the host to add; nothing
// with credentials reaches it. Named too, it gets them.
func TestPlainHTTPHostCredentialsNotToTokenService(t *testing.T) {
	var withCredentials atomic.Int64
	tokens := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if _, _, ok := r.BasicAuth(); ok || r.Method == http.MethodPost {
			withCredentials.Add(1)
		}
		w.Header().Set("Content-Type", "application/json")
		w.Write([]byte(`{"token":"t0ken"}`))
	}))
	t.Cleanup(tokens.Close)
	tokenHost := strings.TrimPrefix(tokens.URL, "http://")
	reg := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") != "Bearer t0ken" {
			w.Header().Set("WWW-Authenticate", `Bearer realm="`+tokens.URL+`/token",service="registry"`)
			http.Error(w, "unauthorized", http.StatusUnauthorized)
			return
		}
		http.Error(w, "no such manifest", http.StatusNotFound)
	}))
	t.Cleanup(reg.Close)
	host := strings.TrimPrefix(reg.URL, "http://")
	cfg := testutil.DockerConfig(t, host, "mirror", "s3cret")

	fetch := func(plainHosts ...string) error {
		client, err := remote.New(remote.Options{PlainHTTPHosts: plainHosts, ConfigFile: cfg, Retries: -1})
		if err != nil {
			t.Fatal(err)
		}
		repo, err := client.Repository(host + "/stellaops/authority")
		if err != nil {
			t.Fatal(err)
		}
		_, err = repo.Resolve(context.Background(), "2025.10.0")
		return err
	}
	err := fetch(host)
	if !errors.Is(err, errdef.ErrUnavailable) || !strings.Contains(err.Error(), "--plain-http-host "+tokenHost) {
		t.Errorf("token service not named: %v; want it refused, naming --plain-http-host %s", err, tokenHost)
	}
	if n := withCredentials.Load(); n != 0 {
		t.Fatalf("the token service no one named got the credentials %d times in plain HTTP", n)
	}
	if err := fetch(host, tokenHost); err == nil || !strings.Contains(err.Error(), "not found") {
		t.Errorf("token service named: %v; want the registry's 404, the token taken", err)
	}
	if withCredentials.Load() == 0 {
		t.Error("the token service named got no credentials")
	}
}
