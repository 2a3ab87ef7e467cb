package cli

import (
	"os"
	"testing"
)

// TestFlagGivenEmptyRefused: a flag given the empty string, as "$VAR" of a
// variable not set gives it, was taken as if left out: serve --tls-cert ""
// --tls-key "" served plain HTTP, create --output b.tar --key "" wrote an
// unsigned archive, import --advisories-dir "" wrote the advisories
// nowhere and --bundle-repo "" placed the bundle in the default
// repository, keygen --output-key-prefix "" wrote cosign.key. Each is
// refused, exit 1, naming the flag, before anything is read, sent or
// written. --repo-prefix "" is no prefix, which is what it says.
func TestFlagGivenEmptyRefused(t *testing.T) {
	t.Chdir(t.TempDir())
	t.Setenv("COSIGN_PASSWORD", "x")
	for _, tt := range []struct {
		args []string
		flag string
	}{
		{[]string{"mirror", "serve", "b.tar", "--key", "k.pub", "--tls-cert", "", "--tls-key", ""}, "tls-cert"},
		{[]string{"mirror", "create", "--images", "r.yaml", "--output", "b.tar", "--key", ""}, "key"},
		{[]string{"mirror", "import", "b.tar", "--registry", "127.0.0.1:1", "--key", "k.pub", "--advisories-dir", ""}, "advisories-dir"},
		{[]string{"mirror", "import", "b.tar", "--registry", "127.0.0.1:1", "--key", "k.pub", "--bundle-repo", ""}, "bundle-repo"},
		{[]string{"mirror", "keygen", "--output-key-prefix", ""}, "output-key-prefix"},
		{[]string{"mirror", "serve", "b.tar", "--key", "k.pub", "--addr", ""}, "addr"},
		{[]string{"mirror", "push", "b.tar", "127.0.0.1:1/r:1", "--registry-config", ""}, "registry-config"},
		// One of a list of trusted keys given empty (found by review: pull
		// went out before "empty key reference" refused it).
		{[]string{"mirror", "pull", "127.0.0.1:1/r:1", "out", "--key", ""}, "key"},
		{[]string{"mirror", "verify", "m.dsse", "--key", "k.pub", "--trust-root", ""}, "trust-root"},
	} {
		code, stdout, stderr := run(t, tt.args...)
		want := `stella: --` + tt.flag + ` "": empty (a variable not set?): give it a value, or leave --` + tt.flag + " out: invalid usage\n"
		if code != ExitInput || stdout != "" || stderr != want {
			t.Errorf("%v: exit %d, stdout %q, stderr %q; want exit %d, stderr %q", tt.args, code, stdout, stderr, ExitInput, want)
		}
	}
	if entries, _ := os.ReadDir("."); len(entries) != 0 {
		t.Errorf("wrote %s", entries[0].Name())
	}
	args := []string{"mirror", "import", "b.tar", "--registry", "127.0.0.1:1", "--key", "k.pub", "--repo-prefix", ""}
	if code, _, stderr := run(t, args...); code != ExitInput || stderr != "stella: b.tar: not found\n" {
		t.Errorf("%v: exit %d, stderr %q", args, code, stderr)
	}
}
