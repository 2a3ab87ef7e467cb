package remote_test

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stellaops/mirror/internal/testutil"
	"github.com/stellaops/mirror/pkg/errdef"
	"github.com/stellaops/mirror/pkg/remote"
)

// A registry or token service that echoes what it was sent in its error
// answer (as some do in "message" or "detail") must not get the
// credentials into the error stella prints: the Authorization header, its
// base64, the user:password and password it holds, and a bearer token are
// blanked before the answer reaches oras-go. They used to be printed as
// they came.
func TestErrorAnswerNeverEchoesCredentials(t *testing.T) {
	const user, password, token = "mirror", `pa"ss\w0rd-never-shown`, "tok3n.never.shown"
	basic := base64.StdEncoding.EncodeToString([]byte(user + ":" + password))
	for _, tt := range []struct {
		name   string
		bearer bool // the registry wants a bearer token
		deny   string
	}{
		{"basic", false, "registry"},
		{"bearer", true, "registry"},
		{"token service", true, "token"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			var host string
			echo := func(w http.ResponseWriter, r *http.Request, code int) {
				authz := r.Header.Get("Authorization")
				_, pw, _ := r.BasicAuth()
				raw, _ := base64.StdEncoding.DecodeString(strings.TrimPrefix(authz, "Basic "))
				msg, _ := json.Marshal(strings.Join([]string{authz, pw, string(raw)}, " | "))
				w.Header().Set("Content-Type", "application/json")
				w.WriteHeader(code)
				fmt.Fprintf(w, `{"errors":[{"code":"DENIED","message":%s,"detail":{"sent":%s}}]}`, msg, msg)
			}
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				authz := r.Header.Get("Authorization")
				switch {
				case r.URL.Path == "/token" && tt.deny == "token":
					echo(w, r, http.StatusUnauthorized)
				case r.URL.Path == "/token":
					fmt.Fprintf(w, `{"token":%q}`, token)
				case authz == "" && tt.bearer:
					w.Header().Set("WWW-Authenticate", fmt.Sprintf(`Bearer realm="http://%s/token",service="test"`, host))
					w.WriteHeader(http.StatusUnauthorized)
				case authz == "":
					w.Header().Set("WWW-Authenticate", `Basic realm="test"`)
					w.WriteHeader(http.StatusUnauthorized)
				default:
					echo(w, r, http.StatusForbidden)
				}
			}))
			t.Cleanup(srv.Close)
			host = strings.TrimPrefix(srv.URL, "http://")
			err := fetchWith(t, host, testutil.DockerConfig(t, host, user, password))
			if !errors.Is(err, errdef.ErrUnavailable) {
				t.Fatalf("err = %v, want ErrUnavailable", err)
			}
			for _, secret := range []string{token, basic, user + ":pa", "w0rd-never-shown"} {
				if strings.Contains(err.Error(), secret) {
					t.Errorf("error holds %q: %v", secret, err)
				}
			}
			if !strings.Contains(err.Error(), "denied") {
				t.Errorf("error lost the registry's answer: %v", err)
			}
		})
	}
}

// A refresh token (docker's "identitytoken") goes to the token service in
// a form body, not a header; a service that echoes the body it was sent,
// raw or decoded, must not get it printed either. It used to be.
func TestTokenServiceNeverEchoesRefreshToken(t *testing.T) {
	const refresh = "refresh/t0ken+never shown"
	var host string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/token" {
			raw, _ := io.ReadAll(r.Body)
			form, _ := url.ParseQuery(string(raw))
			msg, _ := json.Marshal(string(raw) + " | " + form.Get("refresh_token"))
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusUnauthorized)
			fmt.Fprintf(w, `{"errors":[{"code":"DENIED","message":%s}]}`, msg)
			return
		}
		w.Header().Set("WWW-Authenticate", fmt.Sprintf(`Bearer realm="http://%s/token",service="test"`, host))
		w.WriteHeader(http.StatusUnauthorized)
	}))
	t.Cleanup(srv.Close)
	host = strings.TrimPrefix(srv.URL, "http://")
	config := filepath.Join(t.TempDir(), "config.json")
	auth := base64.StdEncoding.EncodeToString([]byte("<token>:"))
	data := fmt.Sprintf(`{"auths":{%q:{"auth":%q,"identitytoken":%q}}}`, host, auth, refresh)
	if err := os.WriteFile(config, []byte(data), 0o600); err != nil {
		t.Fatal(err)
	}
	err := fetchWith(t, host, config)
	if err == nil || !strings.Contains(err.Error(), "denied") {
		t.Fatalf("err = %v, want the token service's denial", err)
	}
	for _, secret := range []string{refresh, url.QueryEscape(refresh), "t0ken"} {
		if strings.Contains(err.Error(), secret) {
			t.Errorf("error holds %q: %v", secret, err)
		}
	}
}

// fetchWith fetches a manifest from host with the credentials of the
// docker config.json given, no retries, and returns the error as stella
// classifies it.
func fetchWith(t *testing.T, host, config string) error {
	t.Helper()
	c, err := remote.New(remote.Options{PlainHTTP: true, Retries: -1, ConfigFile: config})
	if err != nil {
		t.Fatal(err)
	}
	repo, err := c.Repository(host + "/stellaops/x")
	if err != nil {
		t.Fatal(err)
	}
	_, _, err = repo.FetchReference(t.Context(), "1")
	return remote.Classify(err)
}
