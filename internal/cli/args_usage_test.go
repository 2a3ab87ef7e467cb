package cli

import "testing"

// TestWrongArgumentsNameTheCommand: a command given too few or too many
// arguments said only "accepts 2 arg(s), received 0", naming neither the
// command nor what it takes; a mistyped command was not matched to the
// one meant. Each now says which command and its usage, or the command
// meant, on one line, exit 1.
func TestWrongArgumentsNameTheCommand(t *testing.T) {
	for _, tt := range []struct {
		args []string
		want string
	}{
		{[]string{"mirror", "pull"}, "stella: mirror pull: accepts 2 arg(s), received 0 (usage: stella mirror pull REF DIR [flags]): invalid usage\n"},
		{[]string{"mirror", "import", "a.tar", "b.tar", "--registry", "localhost:5000", "--key", "cosign.pub"}, "stella: mirror import: accepts 1 arg(s), received 2 (usage: stella mirror import FILE|DIR|REF --registry HOST[:PORT] (--key PUB | --trust-root ROOT) [flags]): invalid usage\n"},
		{[]string{"mirror", "imprt"}, "stella: unknown command \"imprt\" for \"stella mirror\" (did you mean \"import\"?): invalid usage\n"},
		// A check of its own among the arguments' (inventory's) said
		// "…: invalid usage (usage: …): invalid usage", the kind twice.
		{[]string{"mirror", "inventory", "--registry", "localhost:5000", "--output", "inv.json", "--key", "far.key"}, "stella: mirror inventory: inventory --key signs what it lists: give --bundle-key PUB (the key the bundles are signed with, as import --key) or --bundle-trust-root (usage: stella mirror inventory --registry HOST --output inventory.json [--key REF --bundle-key PUB] [flags]): invalid usage\n"},
	} {
		code, stdout, stderr := run(t, tt.args...)
		if code != ExitInput || stdout != "" || stderr != tt.want {
			t.Errorf("%v: exit %d, stdout %q, stderr %q; want exit %d, stderr %q", tt.args, code, stdout, stderr, ExitInput, tt.want)
		}
	}
}
