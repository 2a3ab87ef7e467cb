//go:build unix

package mirror

import (
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

// TestConfigGivenBackOnlyIfStillTheFileWritten: login run as root over a
// user's config.json renames the new file into the user's directory, then
// gives it back to them. The user owns that directory and may, in between,
// put at config.json a symlink or a hard link to a file of root's
// (/etc/shadow): the chown, by path, followed it and gave root's file to
// the user. It now gives back only the regular file of one link it wrote,
// by its descriptor, and says when it did not.
func TestConfigGivenBackOnlyIfStillTheFileWritten(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root")
	}
	user := fileOwner{uid: 1000, gid: 1000, known: true}
	for _, tc := range []struct {
		name string
		swap func(victim, cfg string) error
	}{
		{"symlink", os.Symlink},
		{"hard link", os.Link},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			victim := filepath.Join(dir, "shadow")
			if err := os.WriteFile(victim, []byte("root:secret\n"), 0o600); err != nil {
				t.Fatal(err)
			}
			cfg := filepath.Join(dir, "config.json")
			if err := tc.swap(victim, cfg); err != nil {
				t.Fatal(err)
			}
			err := keepOwner(cfg, user)
			if owner := ownerOf(victim); owner.uid != 0 || owner.gid != 0 {
				t.Fatalf("root's %s, reached through a %s at config.json, is now %d:%d", victim, tc.name, owner.uid, owner.gid)
			}
			if err == nil || !strings.Contains(err.Error(), cfg+": saved, but not given back") {
				t.Errorf("err = %v; want it told that %s was not given back", err, cfg)
			}
		})
	}
	cfg := filepath.Join(t.TempDir(), "config.json")
	os.WriteFile(cfg, []byte("{}"), 0o600)
	if err := keepOwner(cfg, user); err != nil {
		t.Fatal(err)
	}
	if st, _ := os.Stat(cfg); st.Sys().(*syscall.Stat_t).Uid != 1000 || st.Mode().Perm() != 0o600 {
		t.Errorf("the file login wrote is not given back: %v", st.Sys())
	}
}
