package mirror_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stellaops/mirror/internal/testutil"
	"github.com/stellaops/mirror/pkg/mirror"
	"github.com/stellaops/mirror/pkg/remote"
)

// TestLoginHelperAbsentNamesFile: a login (and a logout) into a
// config.json whose credsStore names a credential helper not installed on
// this machine (docker-credential-desktop on an air-gapped host) fails
// naming the file and the registry and saying what to do, the file left
// as it was. It said only `saving the credentials: exec:
// "docker-credential-desktop": executable file not found in $PATH`
// (found by review).
func TestLoginHelperAbsentNamesFile(t *testing.T) {
	host := testutil.Registry(t)
	cfg := filepath.Join(t.TempDir(), "config.json")
	const config = `{"auths":{"other.example:5000":{"auth":"b3RoZXI6cGFzcw=="}},"credsStore":"stella-absent","currentContext":"desktop-linux"}`
	if err := os.WriteFile(cfg, []byte(config), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv("PATH", t.TempDir()) // no helper
	client, err := remote.New(remote.Options{PlainHTTP: true, ConfigFile: cfg})
	if err != nil {
		t.Fatal(err)
	}
	err = mirror.Login(t.Context(), mirror.LoginOptions{Registry: host, Username: "mirror", Password: "s3cret", Client: client})
	_, lerr := mirror.Logout(t.Context(), client, host)
	for name, err := range map[string]error{"login": err, "logout": lerr} {
		if err == nil {
			t.Fatalf("%s: no error", name)
		}
		for _, want := range []string{cfg, host, "docker-credential-stella-absent", "not installed"} {
			if !strings.Contains(err.Error(), want) {
				t.Errorf("%s: err %q: want %q named", name, err, want)
			}
		}
		if strings.Contains(err.Error(), "s3cret") {
			t.Errorf("%s: err %q: the password printed", name, err)
		}
	}
	if got, _ := os.ReadFile(cfg); string(got) != config {
		t.Errorf("config.json changed: %s", got)
	}
}
