package remote_test

import (
	"os/user"
	"path/filepath"
	"testing"

	"github.com/stellaops/mirror/pkg/remote"
)

// A far-side host runs stella from cron, a systemd unit or a bare
// container, where HOME is not set. Reading needs no credentials: the
// client is built, and finds docker's config.json where docker does (the
// user's home from the password database), or none.
func TestClientWithoutHome(t *testing.T) {
	t.Setenv("HOME", "")
	t.Setenv("DOCKER_CONFIG", "")
	c, err := remote.New(remote.Options{PlainHTTP: true})
	if err != nil {
		t.Fatalf("HOME unset: %v", err)
	}
	want := ""
	if u, err := user.Current(); err == nil && u.HomeDir != "" {
		want = filepath.Join(u.HomeDir, ".docker", "config.json")
	}
	if got := c.ConfigPath(); got != want && want != "" {
		t.Errorf("config.json at %q, want %q", got, want)
	}
}
