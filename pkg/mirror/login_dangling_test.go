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

// TestLoginWritesThroughDanglingSymlinkedConfig: a config.json that is a
// symlink to a file not there yet (a dotfiles link made before the first
// login, a secret mount's path) is written through by login and logout, as
// docker does: the operator's link stays a link, and the credentials land
// in the file it names, a relative link read from the link's directory.
// Login replaced the link with a plain file.
func TestLoginWritesThroughDanglingSymlinkedConfig(t *testing.T) {
	host := testutil.DistributionWith(t, testutil.DistributionOptions{Htpasswd: testutil.Htpasswd(t, t.TempDir(), "mirror", "s3cret")})
	for _, tt := range []struct {
		name string
		// link returns what the link at dir/config.json holds, for a
		// target at target.
		link func(dir, target string) string
	}{
		{"absolute", func(_, target string) string { return target }},
		{"relative", func(dir, target string) string {
			rel, err := filepath.Rel(dir, target)
			if err != nil {
				t.Fatal(err)
			}
			return rel
		}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			base := t.TempDir()
			target := filepath.Join(base, "dotfiles", "docker-config.json")
			if err := os.MkdirAll(filepath.Dir(target), 0o700); err != nil {
				t.Fatal(err)
			}
			dir := filepath.Join(base, "home", ".docker")
			if err := os.MkdirAll(dir, 0o700); err != nil {
				t.Fatal(err)
			}
			link := filepath.Join(dir, "config.json")
			if err := os.Symlink(tt.link(dir, target), link); err != nil {
				t.Fatal(err)
			}
			client, err := remote.New(remote.Options{PlainHTTP: true, ConfigFile: link})
			if err != nil {
				t.Fatal(err)
			}
			if err := mirror.Login(t.Context(), mirror.LoginOptions{Registry: host, Username: "mirror", Password: "s3cret", Client: client}); err != nil {
				t.Fatal(err)
			}
			if fi, err := os.Lstat(link); err != nil || fi.Mode()&os.ModeSymlink == 0 {
				t.Fatalf("login replaced the dangling symlink %s with a plain file (%v, %v)", link, fi.Mode(), err)
			}
			if data, _ := os.ReadFile(target); !strings.Contains(string(data), host) {
				t.Fatalf("%s, which the link names, did not get the credentials: %q", target, data)
			}
			if _, err := mirror.Logout(t.Context(), client, host); err != nil {
				t.Fatal(err)
			}
			if fi, err := os.Lstat(link); err != nil || fi.Mode()&os.ModeSymlink == 0 {
				t.Fatalf("logout replaced the symlink %s (%v)", link, err)
			}
			if data, _ := os.ReadFile(target); strings.Contains(string(data), host) {
				t.Fatalf("logout left the credentials in %s: %s", target, data)
			}
		})
	}
}
