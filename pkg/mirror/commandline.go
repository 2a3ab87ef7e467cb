package mirror

import (
	"slices"
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
	if o.PlainHTTP {
		args = append(args, "--plain-http")
	} else {
		// Every host the run was told to talk plain HTTP to, host first:
		// not host alone, as the command talks to host's token service
		// (or storage) too, which may be one of them (a token service
		// without TLS on another port), and refuses to send it
		// credentials otherwise. The others keep their TLS.
		var named []string
		if o.PlainHTTPHost(host) {
			named = append(named, host)
		}
		for _, h := range o.PlainHTTPHosts {
			if !slices.ContainsFunc(named, func(n string) bool { return strings.EqualFold(n, h) }) {
				named = append(named, h)
			}
		}
		for _, h := range named {
			args = append(args, "--plain-http-host", shellWord(h))
		}
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
