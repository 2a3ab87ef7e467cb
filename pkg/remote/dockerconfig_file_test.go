package remote_test

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stellaops/mirror/pkg/errdef"
	"github.com/stellaops/mirror/pkg/remote"
)

// TestDockerConfigNamingAFile: DOCKER_CONFIG is the directory that holds
// config.json; set to the file itself (DOCKER_CONFIG=~/.docker/config.json,
// a common slip), every command failed with "failed to open config file at
// /home/u/.docker/config.json/config.json: not a directory", naming
// neither DOCKER_CONFIG nor what to set it to. It says both.
func TestDockerConfigNamingAFile(t *testing.T) {
	file := filepath.Join(t.TempDir(), "config.json")
	if err := os.WriteFile(file, []byte("{}"), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv("DOCKER_CONFIG", file)
	_, err := remote.New(remote.Options{PlainHTTP: true})
	want := "DOCKER_CONFIG=" + file + " names a file: set it to the directory that holds config.json (DOCKER_CONFIG=" + filepath.Dir(file) + ")"
	if !errors.Is(err, errdef.ErrUsage) || !strings.Contains(err.Error(), want) {
		t.Errorf("err = %v, want ErrUsage and %q", err, want)
	}
}
