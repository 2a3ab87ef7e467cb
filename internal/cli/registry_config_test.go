package cli

import (
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
)

// TestRegistryConfigMissingRefused: a --registry-config naming no file (a
// name mistyped) was read as no credentials at all, and every request
// went to the registry anonymously, where a missing --ca-file or
// --certs-dir is refused: against a registry that takes anonymous pushes
// the run passed, against one that does not it failed as the registry
// refusing the credentials. It is refused, naming it, before any request;
// login, which writes it, still makes it.
func TestRegistryConfigMissingRefused(t *testing.T) {
	var hits atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		w.WriteHeader(http.StatusOK)
	}))
	defer srv.Close()
	host := strings.TrimPrefix(srv.URL, "http://")
	missing := filepath.Join(t.TempDir(), "confg.json")
	code, stdout, stderr := run(t, "mirror", "doctor", "--registry", host, "--plain-http", "--registry-config", missing)
	want := "stella: --registry-config " + missing + ": no such file (stella mirror login HOST -u USER --password-stdin --plain-http --registry-config " + missing + " writes it): not found\n"
	if code != ExitInput || stdout != "" || stderr != want {
		t.Errorf("exit %d, stdout %q, stderr %q; want exit %d, stderr %q", code, stdout, stderr, ExitInput, want)
	}
	if n := hits.Load(); n != 0 {
		t.Errorf("the registry got %d requests", n)
	}
}

// TestLogoutRegistryConfigMissing: logout of a --registry-config naming no
// file is "not logged in", exit 0, as docker logout and docs/json.md have
// it: a cleanup that logs out whether or not the login ran (a trap, a
// re-run) failed, exit 1, once the missing file was refused for every
// command but login (found by review).
func TestLogoutRegistryConfigMissing(t *testing.T) {
	missing := filepath.Join(t.TempDir(), "config.json")
	code, stdout, stderr := run(t, "mirror", "logout", "127.0.0.1:5000", "--registry-config", missing)
	if code != 0 || !strings.Contains(stdout, "No credentials stored for 127.0.0.1:5000") {
		t.Errorf("exit %d, stdout %q, stderr %q; want exit 0, no credentials stored", code, stdout, stderr)
	}
}

// TestRegistryConfigMissingAdviceRuns: the login a --registry-config naming
// no file advises runs as written for the run that was refused: with its
// --plain-http (without it, login talks HTTPS to a registry without TLS,
// and fails), and the file's name quoted for the shell where it holds a
// blank. It gave the name bare and no --plain-http (found by review).
func TestRegistryConfigMissingAdviceRuns(t *testing.T) {
	missing := filepath.Join(t.TempDir(), "site confg.json")
	code, _, stderr := run(t, "mirror", "pull", "127.0.0.1:1/a/b:1", filepath.Join(t.TempDir(), "out"), "--plain-http", "--registry-config", missing)
	want := "(stella mirror login HOST -u USER --password-stdin --plain-http --registry-config '" + missing + "' writes it)"
	if code != ExitInput || !strings.Contains(stderr, want) {
		t.Errorf("exit %d, stderr %q; want the advice %s", code, stderr, want)
	}
}
