//go:build unix

package mirror_test

import (
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/stellaops/mirror/internal/testutil"
	"github.com/stellaops/mirror/pkg/mirror"
	"github.com/stellaops/mirror/pkg/remote"
)

// TestLoginKeepsConfigOwner: login and logout run as root over a user's
// config.json (sudo keeping HOME, a provisioning script with
// --registry-config) must leave it that user's, mode 0600, as docker login
// does: it was left root's, and the user's own docker and stella could no
// longer read their credentials.
func TestLoginKeepsConfigOwner(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root to give the config another owner")
	}
	host := testutil.DistributionWith(t, testutil.DistributionOptions{Htpasswd: testutil.Htpasswd(t, t.TempDir(), "mirror", "s3cret")})
	cfg := filepath.Join(t.TempDir(), "config.json")
	if err := os.WriteFile(cfg, []byte(`{"auths":{}}`), 0o600); err != nil {
		t.Fatal(err)
	}
	const uid, gid = 1000, 1000
	if err := os.Chown(cfg, uid, gid); err != nil {
		t.Fatal(err)
	}
	client, err := remote.New(remote.Options{PlainHTTP: true, ConfigFile: cfg})
	if err != nil {
		t.Fatal(err)
	}
	check := func(what string, wantHost bool) {
		t.Helper()
		fi, err := os.Stat(cfg)
		if err != nil {
			t.Fatal(err)
		}
		st := fi.Sys().(*syscall.Stat_t)
		if st.Uid != uid || st.Gid != gid || fi.Mode().Perm() != 0o600 {
			t.Errorf("%s left the config %d:%d %v, want %d:%d -rw-------: its user can no longer read it", what, st.Uid, st.Gid, fi.Mode().Perm(), uid, gid)
		}
		if data, _ := os.ReadFile(cfg); strings.Contains(string(data), host) != wantHost {
			t.Errorf("after %s the config reads %s", what, data)
		}
	}
	if err := mirror.Login(t.Context(), mirror.LoginOptions{Registry: host, Username: "mirror", Password: "s3cret", Client: client}); err != nil {
		t.Fatal(err)
	}
	check("login", true)
	if _, err := mirror.Logout(t.Context(), client, host); err != nil {
		t.Fatal(err)
	}
	check("logout", false)
}
