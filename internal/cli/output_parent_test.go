package cli

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// An output whose directory does not exist was told by the hidden file
// stella makes beside it ("open nodir/.b.tar.tmp-644197230: no such file or
// directory"), a file the operator never asked for (found by review). It
// is told by the output, saying that its directory does not exist (exit
// 1), and the directory is not made: a mount point mistyped would have the
// archive written on the disk under it.
func TestMissingOutputDirectoryNamesTheOutput(t *testing.T) {
	dir := testBundle(t)
	work := t.TempDir()
	t.Setenv("COSIGN_PASSWORD", "x")
	missing := filepath.Join(work, "nodir")
	for name, c := range map[string]struct {
		args   []string
		output string
	}{
		"pack":         {[]string{"mirror", "pack", dir, "--output", filepath.Join(missing, "b.tar")}, filepath.Join(missing, "b.tar")},
		"pack --split": {[]string{"mirror", "pack", dir, "--output", filepath.Join(missing, "b.tar.zst"), "--split", "1M"}, filepath.Join(missing, "b.tar.zst")},
		"keygen":       {[]string{"mirror", "keygen", "--output-key-prefix", filepath.Join(missing, "k")}, filepath.Join(missing, "k")},
	} {
		code, _, stderr := run(t, c.args...)
		if code != 1 || strings.Contains(stderr, ".tmp-") || !strings.Contains(stderr, c.output) || !strings.Contains(stderr, "its directory "+missing+" does not exist") {
			t.Errorf("%s into a directory not there: exit %d, want 1 naming the output and its directory:\n%s", name, code, stderr)
		}
		if _, err := os.Stat(missing); !os.IsNotExist(err) {
			t.Fatalf("%s made the output's directory (stat: %v)", name, err)
		}
	}
}
