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
// as a client of o does: plain HTTP, TLS, and the credentials file.
func registryFlags(host string, o remote.Options) []string {
	var args []string
	switch {
	case o.PlainHTTP:
		args = append(args, "--plain-http")
	case o.PlainHTTPHost(host):
		// The host alone: the command may talk to others (a token
		// service, a storage backend), which keep their TLS.
		args = append(args, "--plain-http-host", shellWord(host))
	}
	if o.Insecure {
		args = append(args, "--insecure")
	}
	for _, f := range []struct{ flag, value string }{
		{"--ca-file", o.CAFile}, {"--cert-file", o.CertFile}, {"--key-file", o.KeyFile},
		{"--certs-dir", o.CertsDir}, {"--registry-config", o.ConfigFile},
	} {
		if f.value != "" {
			args = append(args, f.flag, shellWord(f.value))
		}
	}
	return args
}

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

// shellWord quotes s for a POSIX shell where it holds anything but the
// characters of plain paths and host names.
func shellWord(s string) string {
	if s != "" && strings.Trim(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_./:@%+=,-") == "" {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}
