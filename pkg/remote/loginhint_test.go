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

// TestNoCredentialsHintRuns: a registry asking for credentials there are
// none for is refused advising a login that runs as written. The hint
// said `stella mirror login`, with no host, which login refuses (it takes
// one), and given the host, without -u and --password-stdin, refused too
// (required flag "username" not set) (found by review).
func TestNoCredentialsHintRuns(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("WWW-Authenticate", `Basic realm="registry"`)
		w.WriteHeader(http.StatusUnauthorized)
	}))
	defer srv.Close()
	host := strings.TrimPrefix(srv.URL, "http://")
	config := filepath.Join(t.TempDir(), "config.json")
	if err := os.WriteFile(config, []byte("{}"), 0o600); err != nil {
		t.Fatal(err)
	}
	client, err := remote.New(remote.Options{PlainHTTP: true, ConfigFile: config, Retries: 1})
	if err != nil {
		t.Fatal(err)
	}
	repo, err := client.Repository(host + "/app/one")
	if err != nil {
		t.Fatal(err)
	}
	err = remote.Classify(repo.Tags(context.Background(), "", func([]string) error { return nil }))
	if !errors.Is(err, errdef.ErrUnavailable) || !strings.Contains(err.Error(), "`stella mirror login "+host+" -u USER --password-stdin --plain-http --registry-config "+config+"`") {
		t.Errorf("tags of a registry asking for credentials, none given: %v; want the advice of a login that runs as written", err)
	}
}
