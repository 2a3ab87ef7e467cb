package cli

import (
	"os"
	"testing"
)

// TestSigningKeyGivenTwiceRefused: a signing key flag, which takes one key,
// given twice with different keys, kept the second and dropped the first
// without a word: sign --key a.key --key b.key signed with b.key alone,
// exit 0, where verify and import count every --key given and catalog
// refuses a second key to sign with. Each is refused, exit 1, naming the
// flag and not the keys (one may be a key given itself), before anything
// is read or written. The same key twice, and trusted keys (verify --key
// a.pub --key b.pub), are taken as before.
func TestSigningKeyGivenTwiceRefused(t *testing.T) {
	t.Chdir(t.TempDir())
	t.Setenv("COSIGN_PASSWORD", "x")
	for _, tt := range []struct {
		args []string
		flag string
	}{
		{[]string{"mirror", "sign", "bundle/manifest.json", "--key", "a.key", "--key", "b.key"}, "key"},
		{[]string{"mirror", "create", "--images", "r.yaml", "--output", "b.tar", "--key", "a.key", "--key", "env://B"}, "key"},
		{[]string{"mirror", "pack", "bundle", "-o", "b.tar", "--split", "1G", "--key", "a.key", "--key", "b.key"}, "key"},
		{[]string{"mirror", "inventory", "--registry", "127.0.0.1:1", "-o", "i.json", "--bundle-key", "p.pub", "--key", "a.key", "--key", "b.key"}, "key"},
		{[]string{"mirror", "import", "b.tar", "--registry", "127.0.0.1:1", "--key", "p.pub", "--catalog-key", "a.key", "--catalog-key", "b.key"}, "catalog-key"},
	} {
		code, stdout, stderr := run(t, tt.args...)
		want := "stella: --" + tt.flag + " given twice, with different keys: give one --" + tt.flag + " to sign with (a second signer signs in a run of their own, which adds their signature): invalid usage\n"
		if code != ExitInput || stdout != "" || stderr != want {
			t.Errorf("%v: exit %d, stdout %q, stderr %q; want exit %d, stderr %q", tt.args, code, stdout, stderr, ExitInput, want)
		}
	}
	if entries, _ := os.ReadDir("."); len(entries) != 0 {
		t.Errorf("wrote %s", entries[0].Name())
	}
	// Taken as before: the same key twice, trusted keys.
	for _, tt := range []struct {
		args []string
		want string
	}{
		{[]string{"mirror", "sign", "bundle/manifest.json", "--key", "a.key", "--key", "a.key"}, "stella: key a.key: no such file: not found\n"},
		{[]string{"mirror", "verify", "b.tar", "--key", "a.pub", "--key", "b.pub"}, "stella: b.tar: not found\n"},
	} {
		code, _, stderr := run(t, tt.args...)
		if code != ExitInput || stderr != tt.want {
			t.Errorf("%v: exit %d, stderr %q; want %q", tt.args, code, stderr, tt.want)
		}
	}
}
