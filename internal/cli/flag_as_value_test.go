package cli

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestFlagTakenAsValueRefused: a flag given no value takes the word after
// it as its value, a flag too. import --advisories-dir --quiet wrote the
// advisories into a directory named "--quiet" (and was not quiet); pack
// --output --force, serve --addr --key and the others went on with the
// flag's name as a path, a repository or an address. Each is refused,
// exit 1, naming the flag and the word it took, before anything is read,
// sent or written.
func TestFlagTakenAsValueRefused(t *testing.T) {
	dir := t.TempDir()
	t.Chdir(dir)
	for _, tt := range []struct {
		args []string
		want string
	}{
		{[]string{"mirror", "import", "b.tar", "--registry", "127.0.0.1:1", "--key", "k.pub", "--advisories-dir", "--quiet"}, `--advisories-dir "--quiet"`},
		{[]string{"mirror", "import", "b.tar", "--registry", "127.0.0.1:1", "--key", "k.pub", "--bundle-repo", "-q"}, `--bundle-repo "-q"`},
		{[]string{"mirror", "import", "b.tar", "--registry", "127.0.0.1:1", "--repo-prefix", "--plain-http", "--key", "k.pub"}, `--repo-prefix "--plain-http"`},
		{[]string{"mirror", "import", "b.tar", "--registry", "127.0.0.1:1", "--key", "--allow-expired"}, `--key "--allow-expired"`},
		{[]string{"mirror", "pack", "bundle", "--output", "--force"}, `--output "--force"`},
		{[]string{"mirror", "serve", "b.tar", "--key", "k.pub", "--addr", "--key"}, `--addr "--key"`},
		{[]string{"mirror", "sign", "bundle/manifest.json", "--key", "--plain-http"}, `--key "--plain-http"`},
		{[]string{"mirror", "keygen", "--output-key-prefix", "--force"}, `--output-key-prefix "--force"`},
		{[]string{"mirror", "verify", "b.tar", "--key", "k.pub", "--key", "--signature-only"}, `--key "--signature-only"`},
	} {
		code, stdout, stderr := run(t, tt.args...)
		want := "stella: " + tt.want + ": a flag, not a value (" + strings.Fields(tt.want)[0] + " was given none, so it took the flag after it): invalid usage\n"
		if code != ExitInput || stdout != "" || stderr != want {
			t.Errorf("%v: exit %d, stdout %q, stderr %q; want exit %d, stderr %q", tt.args, code, stdout, stderr, ExitInput, want)
		}
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 0 {
		t.Errorf("wrote %s", filepath.Join(dir, entries[0].Name()))
	}
}
