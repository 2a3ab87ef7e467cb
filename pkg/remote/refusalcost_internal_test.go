package remote

import (
	"context"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"oras.land/oras-go/v2/registry/remote/errcode"
)

// TestRefusedAnswerRunsNoCredentialHelper: answers 403 of a registry's
// API that no one reports (a mount the registry declines, which an
// upload mends, once for each blob of a long import) cost no run of the
// credential helper config.json names; whether the run had credentials
// is asked once a refusal is reported (Classify). Every refusal ran the
// helper (docker-credential-gcloud, ecr-login: a process each, often
// slow) to record it (found by review).
func TestRefusedAnswerRunsNoCredentialHelper(t *testing.T) {
	dir := t.TempDir()
	runs := filepath.Join(dir, "runs")
	helper := "#!/bin/sh\necho run >>" + runs + "\ncat >/dev/null\necho '{\"ServerURL\":\"x\",\"Username\":\"user\",\"Secret\":\"pass\"}'\n"
	if err := os.WriteFile(filepath.Join(dir, "docker-credential-stella-count"), []byte(helper), 0o755); err != nil {
		t.Fatal(err)
	}
	t.Setenv("PATH", dir+string(os.PathListSeparator)+os.Getenv("PATH"))
	config := filepath.Join(dir, "config.json")
	if err := os.WriteFile(config, []byte(`{"credsStore":"stella-count"}`), 0o600); err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") == "" {
			w.Header().Set("WWW-Authenticate", `Basic realm="x"`)
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		w.WriteHeader(http.StatusForbidden) // a mount declined
	}))
	defer srv.Close()
	host := strings.TrimPrefix(srv.URL, "http://")
	c, err := New(Options{ConfigFile: config, PlainHTTP: true})
	if err != nil {
		t.Fatal(err)
	}
	rc := reauthClient{c.authClient(host, true), c.gate(host), host, c.opts}
	const mounts = 20
	for i := 0; i < mounts; i++ {
		req, _ := http.NewRequestWithContext(context.Background(), http.MethodPost, srv.URL+"/v2/b/blobs/uploads/?"+url.Values{"mount": {"sha256:x"}, "from": {"a"}}.Encode(), nil)
		resp, err := rc.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusForbidden {
			t.Fatalf("mount answered %d; want 403", resp.StatusCode)
		}
	}
	data, _ := os.ReadFile(runs)
	if n := strings.Count(string(data), "run"); n > 1 {
		t.Errorf("%d mounts declined ran the credential helper %d times; want once (the Basic challenge)", mounts, n)
	}
	// One reported (a push of a manifest refused), classified twice (as
	// a caller's caller may): asked once, and advised to check the
	// credentials the run holds.
	req, _ := http.NewRequestWithContext(context.Background(), http.MethodPut, srv.URL+"/v2/b/manifests/1", nil)
	resp, err := rc.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	err = Classify(Classify(&errcode.ErrorResponse{Method: resp.Request.Method, URL: resp.Request.URL, StatusCode: http.StatusForbidden}))
	if !strings.Contains(err.Error(), "check the credentials") || !strings.Contains(err.Error(), "stella mirror login") {
		t.Errorf("a refusal reported: %v; want the credentials to be checked, with the login that replaces them", err)
	}
	data, _ = os.ReadFile(runs)
	if n := strings.Count(string(data), "run"); n != 2 {
		t.Errorf("a refusal reported, classified twice, ran the credential helper %d times in all; want twice (the challenge, the report)", n)
	}
}
