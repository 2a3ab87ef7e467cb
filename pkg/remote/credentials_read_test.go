package remote_test

import (
	"context"
	"encoding/base64"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stellaops/mirror/pkg/remote"
)

// TestCredentialsReadErrorNamesFileAndHost: a config.json entry that
// cannot be read (an auth field that is not the base64 of USER:PASSWORD,
// a credsStore or credHelpers naming a helper not installed on this
// machine) fails with the file and the registry named, and never the
// secret: an auth field without the colon was printed decoded, "auth
// 'mirrors3cret' does not conform the base64(username:password) format",
// the password in the log, and none of the errors named the file; an
// entry of a user name without a password (or the other way round) failed
// each request "missing username or password for basic auth", naming
// neither (found by review).
func TestCredentialsReadErrorNamesFileAndHost(t *testing.T) {
	const host = "registry.example:5000"
	b64 := base64.StdEncoding.EncodeToString
	for _, tc := range []struct {
		name, config string
		want         []string
	}{
		{"auth without colon", `{"auths":{"` + host + `":{"auth":"` + b64([]byte("mirrors3cret")) + `"}}}`, []string{"auth field", "base64 of USER:PASSWORD"}},
		{"auth not base64", `{"auths":{"` + host + `":{"auth":"bWlycm9y!!!czNjcmV0"}}}`, []string{"auth field", "base64 of USER:PASSWORD"}},
		{"user without password", `{"auths":{"` + host + `":{"username":"mirror"}}}`, []string{"a user name or a password without the other"}},
		{"auth without password", `{"auths":{"` + host + `":{"auth":"` + b64([]byte("mirror:")) + `"}}}`, []string{"a user name or a password without the other"}},
		{"password without user", `{"auths":{"` + host + `":{"auth":"` + b64([]byte(":s3cret")) + `"}}}`, []string{"a user name or a password without the other"}},
		{"credsStore absent", `{"credsStore":"stella-absent"}`, []string{"docker-credential-stella-absent", "credsStore", "credHelpers"}},
		{"credHelpers absent", `{"credHelpers":{"` + host + `":"stella-absent"}}`, []string{"docker-credential-stella-absent", "credsStore", "credHelpers"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := filepath.Join(t.TempDir(), "config.json")
			if err := os.WriteFile(cfg, []byte(tc.config), 0o600); err != nil {
				t.Fatal(err)
			}
			t.Setenv("PATH", t.TempDir()) // no helper
			client, err := remote.New(remote.Options{ConfigFile: cfg})
			if err != nil {
				t.Fatal(err)
			}
			_, err = client.Store().Get(context.Background(), host)
			if err == nil {
				t.Fatal("read an entry that cannot be read")
			}
			msg := err.Error()
			for _, w := range append(tc.want, cfg, host) {
				if !strings.Contains(msg, w) {
					t.Errorf("err %q: want %q named", msg, w)
				}
			}
			if strings.Contains(msg, "s3cret") || strings.Contains(msg, "\n") {
				t.Errorf("err %q: the secret printed, or more than one line", msg)
			}
		})
	}
}
