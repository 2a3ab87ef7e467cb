package remote

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"oras.land/oras-go/v2/registry/remote/errcode"
)

// TestTokenRefusalDockerHubCredentials: a run holding credentials for
// Docker Hub, saved by docker login (or stella mirror login docker.io)
// under "https://index.docker.io/v1/", whose token service refuses them,
// is told to check them. It was told there were none, "refused a request
// without credentials: there are no credentials for docker.io", and
// advised the login that had saved them: whether the run had credentials
// was asked under "docker.io", a key the store does not read so, where
// the auth client asks under the registry's host, registry-1.docker.io
// (found by review).
func TestTokenRefusalDockerHubCredentials(t *testing.T) {
	config := filepath.Join(t.TempDir(), "config.json")
	// user:pass
	saved := `{"auths":{"https://index.docker.io/v1/":{"auth":"dXNlcjpwYXNz"}}}`
	if err := os.WriteFile(config, []byte(saved), 0o600); err != nil {
		t.Fatal(err)
	}
	c, err := New(Options{ConfigFile: config})
	if err != nil {
		t.Fatal(err)
	}
	rc := reauthClient{c.authClient("docker.io", true), c.gate("docker.io"), "docker.io", c.opts}
	token, _ := url.Parse("https://auth.docker.io/token?scope=repository%3Alibrary%2Fx%3Apull&service=registry.docker.io")
	refusal := &errcode.ErrorResponse{Method: http.MethodGet, URL: token, StatusCode: http.StatusUnauthorized}
	err = Classify(rc.refused(context.Background(), refusal))
	if strings.Contains(err.Error(), "without credentials") {
		t.Errorf("token service refusing the Docker Hub credentials saved: %v; want them to be checked", err)
	}
	var ar *authRefusal
	if !errors.As(err, &ar) || ar.anonymous {
		t.Errorf("token service refusing the Docker Hub credentials saved: %#v; want an authRefusal, not anonymous", ar)
	}
}

// TestRegistryRefusalDockerHubCredentials: the same for Docker Hub's
// registry refusing a request of a run holding credentials for it (a
// push into a repository the account may not write): asked under
// "docker.io", the store found none, and the run was told to log in.
func TestRegistryRefusalDockerHubCredentials(t *testing.T) {
	config := filepath.Join(t.TempDir(), "config.json")
	if err := os.WriteFile(config, []byte(`{"auths":{"https://index.docker.io/v1/":{"auth":"dXNlcjpwYXNz"}}}`), 0o600); err != nil {
		t.Fatal(err)
	}
	c, err := New(Options{ConfigFile: config})
	if err != nil {
		t.Fatal(err)
	}
	rc := reauthClient{c.authClient("docker.io", true), c.gate("docker.io"), "docker.io", c.opts}
	req, _ := http.NewRequest(http.MethodPost, "https://registry-1.docker.io/v2/library/x/blobs/uploads/", nil)
	rc.refusedAnswer(&http.Response{StatusCode: http.StatusUnauthorized, Request: req})
	err = Classify(&errcode.ErrorResponse{Method: req.Method, URL: req.URL, StatusCode: http.StatusUnauthorized})
	if strings.Contains(err.Error(), "without credentials") || !strings.Contains(err.Error(), "check the credentials") {
		t.Errorf("Docker Hub refusing the credentials saved: %v; want them to be checked", err)
	}
}
