package remote

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestConfigPathThroughALinkedDirectory: ~/.docker is itself a symlink
// (dotfiles: ~/.docker -> dotfiles/docker), and config.json in it a
// relative link to a file not there yet (../secrets/config.json). The
// kernel, and docker, read the relative link from the directory it really
// lies in, so the file is dotfiles/secrets/config.json; joined to
// ~/.docker by its name, login wrote the credentials to ~/secrets, where
// no link points. A chain of links that loops is refused, not replaced by
// a plain file.
func TestConfigPathThroughALinkedDirectory(t *testing.T) {
	base := t.TempDir()
	real := filepath.Join(base, "dotfiles", "docker")
	for _, d := range []string{real, filepath.Join(base, "dotfiles", "secrets"), filepath.Join(base, "home", "secrets")} {
		if err := os.MkdirAll(d, 0o700); err != nil {
			t.Fatal(err)
		}
	}
	home := filepath.Join(base, "home")
	if err := os.Symlink(real, filepath.Join(home, ".docker")); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("../secrets/config.json", filepath.Join(real, "config.json")); err != nil {
		t.Fatal(err)
	}
	got, err := configPath(filepath.Join(home, ".docker", "config.json"))
	if want := filepath.Join(base, "dotfiles", "secrets", "config.json"); err != nil || got != want {
		t.Errorf("configPath = %s, %v; the link names %s", got, err, want)
	}
	loop := filepath.Join(base, "loop.json")
	os.Symlink("other.json", loop)
	os.Symlink("loop.json", filepath.Join(base, "other.json"))
	if got, err := configPath(loop); err == nil || !strings.Contains(err.Error(), loop+": a chain of symlinks that loops") {
		t.Errorf("configPath of a loop = %q, %v; want it refused", got, err)
	}
}
