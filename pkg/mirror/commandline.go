package mirror

import (
	"strconv"
	"strings"

	"github.com/stellaops/mirror/pkg/remote"
)

// The commands that messages advise are written to run as they are, with
// the flags of the run that met the failure: pasted, they talk to the
// same registry the same way, and read or write the same files.

// registryFlags are the command-line flags that make a run talk to host
// as a client of o does (remote.Options.CommandFlags).
func registryFlags(host string, o remote.Options) []string { return o.CommandFlags(host) }

// catalogCommand is the catalog command that writes the catalog of repo
// in tgt again, its key left to the reader (KEY), counting the bundles of
// bundleTrust (--bundle-key, --bundle-trust-root, --bundle-threshold),
// as the run that advises it counted them: without them, catalog counts
// only the bundles its own key signs, none where that key is not the
// bundles' signer's.
func catalogCommand(tgt *target, repo string, bundleTrust TrustOptions) string {
	args := []string{"stella mirror catalog", shellWord(tgt.host + "/" + repo), "--key KEY"}
	for _, k := range bundleTrust.Keys {
		args = append(args, "--bundle-key", shellWord(k))
	}
	for _, r := range bundleTrust.TrustRoots {
		args = append(args, "--bundle-trust-root", shellWord(r))
	}
	if bundleTrust.Threshold > 1 {
		args = append(args, "--bundle-threshold", strconv.Itoa(bundleTrust.Threshold))
	}
	args = append(args, registryFlags(tgt.host, tgt.client.Options())...)
	return strings.Join(args, " ")
}

// shellWord quotes s for a POSIX shell where it needs it
// (remote.ShellWord).
func shellWord(s string) string { return remote.ShellWord(s) }
