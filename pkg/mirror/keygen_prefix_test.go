package mirror_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stellaops/mirror/pkg/errdef"
	"github.com/stellaops/mirror/pkg/mirror"
)

// TestKeygenRefusesDirectoryPrefix: keygen --output-key-prefix keys/ wrote
// keys/.key and keys/.pub, hidden files an operator looking for the key
// pair does not see; so did keys/. and keys/.. (keys/..key). A prefix
// naming a directory alone is refused as usage (exit 1), with the prefix
// to give instead, and nothing is written.
func TestKeygenRefusesDirectoryPrefix(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "keys")
	if err := os.Mkdir(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	for _, prefix := range []string{dir + "/", dir + string(filepath.Separator), dir + "/.", dir + "/.."} {
		_, err := mirror.Keygen(context.Background(), mirror.KeygenOptions{OutputPrefix: prefix, Password: testPass})
		if want := filepath.Join(prefix, "cosign"); !errors.Is(err, errdef.ErrUsage) || !strings.Contains(err.Error(), "give "+want) {
			t.Errorf("keygen --output-key-prefix %s: %v, want errdef.ErrUsage suggesting %s", prefix, err, want)
		}
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 0 {
		t.Errorf("a refused keygen wrote %v", entries)
	}
}
