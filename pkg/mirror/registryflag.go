package mirror

import (
	"fmt"
	"net/netip"
	"os"
	"slices"
	"strconv"
	"strings"

	"oras.land/oras-go/v2/registry"

	"github.com/stellaops/mirror/pkg/bundle"
	"github.com/stellaops/mirror/pkg/errdef"
)

// checkRegistryHost refuses a registry (what: "--registry" of import,
// inventory and doctor; "registry", the argument of login and logout) that
// is not HOST[:PORT]: a URL, as a browser or docker login has it, would
// otherwise fail as an invalid repository name (or, for logout, find no
// credentials under it and leave those of the host saved), and a path
// would quietly prefix every repository, the bundle repository too, where
// the next import, inventory or doctor given the host alone looks
// elsewhere.
func checkRegistryHost(what, host string) error {
	if shown, ok := hostWithoutCredentials(host); ok {
		return fmt.Errorf("%s %q: want HOST[:PORT], no credentials (stella mirror login HOST -u USER --password-stdin saves them): %w", what, shown, errdef.ErrUsage)
	}
	switch {
	case host == "":
		return fmt.Errorf("%s: want HOST[:PORT]: %w", what, errdef.ErrUsage)
	case strings.Contains(host, "://"):
		return fmt.Errorf("%s %q: want HOST[:PORT], no scheme (--plain-http talks plain HTTP to a registry without TLS): %w", what, host, errdef.ErrUsage)
	case strings.HasPrefix(host, "-"):
		return fmt.Errorf("%s %q: want HOST[:PORT], not a flag (%s took the word after it as its value): %w", what, host, what, errdef.ErrUsage)
	case strings.Contains(host, "/"):
		return fmt.Errorf("%s %q: want HOST[:PORT], no path (import puts the images under a path with --repo-prefix): %w", what, host, errdef.ErrUsage)
	}
	return nil
}

// CheckPlainHTTPHost refuses a --plain-http-host that is not one
// HOST[:PORT], as references name a registry: a URL (the flag itself says
// plain HTTP), credentials (blanked: the refusal is printed, logged and
// kept), a path (every repository of a registry is talked to alike), or a
// list, would otherwise match no registry, and the one meant would be
// talked to in HTTPS and fail.
func CheckPlainHTTPHost(host string) error {
	const what = "--plain-http-host"
	if shown, ok := hostWithoutCredentials(host); ok {
		return fmt.Errorf("%s %q: want HOST[:PORT], no credentials (stella mirror login HOST -u USER --password-stdin saves them): %w", what, shown, errdef.ErrUsage)
	}
	switch {
	case strings.Contains(host, "://"):
		return fmt.Errorf("%s %q: want HOST[:PORT], no scheme (the flag says plain HTTP): %w", what, host, errdef.ErrUsage)
	case strings.Contains(host, "/"):
		return fmt.Errorf("%s %q: want HOST[:PORT], no path (every repository of the registry is talked to in plain HTTP): %w", what, host, errdef.ErrUsage)
	case strings.Contains(host, ","):
		return fmt.Errorf("%s %q: want one HOST[:PORT] (repeat --plain-http-host for each registry): %w", what, host, errdef.ErrUsage)
	}
	if err := (registry.Reference{Registry: host}).ValidateRegistry(); err != nil || strings.ContainsAny(host, " \t@?#") || !hostPortShaped(host) {
		return fmt.Errorf("%s %q: want HOST[:PORT], as a reference names its registry (10.0.0.5:5000, registry.internal): %w", what, host, errdef.ErrUsage)
	}
	return nil
}

// hostPortShaped reports whether host is a name a reference can give its
// registry: a DNS name of non-empty labels, an IPv4 address or an IPv6 one
// in brackets, then at most a port of 1–65535. ValidateRegistry lets
// through "::1", ":5000", "reg:" and "reg:99999", which no reference
// names, so such a --plain-http-host matched nothing and did nothing.
func hostPortShaped(host string) bool {
	name := host
	if i := strings.LastIndexByte(host, ':'); i >= 0 && !strings.HasSuffix(host, "]") {
		port, err := strconv.Atoi(host[i+1:])
		if err != nil || port < 1 || port > 65535 || host[i+1] == '+' {
			return false
		}
		name = host[:i]
	}
	if strings.HasPrefix(name, "[") && strings.HasSuffix(name, "]") {
		ip, err := netip.ParseAddr(name[1 : len(name)-1])
		return err == nil && ip.Is6()
	}
	if name == "" || strings.Contains(name, ":") {
		return false
	}
	// A fully qualified name may end in a dot, as a reference may give
	// it ("registry.corp.example.:5000").
	name = strings.TrimSuffix(name, ".")
	return name != "" && !slices.Contains(strings.Split(name, "."), "")
}

// refuseScheme refuses a registry reference written as a URL
// (http://HOST:PORT/REPO:TAG, as a browser or a registry's web page has
// it), which the reference grammar would fail as an invalid repository
// "/HOST", or a bundle source take for a file that is not found. One
// with credentials in it (https://USER:PASSWORD@HOST/…) is refused too,
// and named without them: the refusal is printed, logged and kept.
func refuseScheme(ref string) error {
	if at := strings.LastIndexByte(ref, '@'); at >= 0 && !strings.Contains(ref, "://") && tagAfterAt(ref[:at], ref[at+1:]) {
		return fmt.Errorf("reference %q: %q after the @ is a tag, where a digest (sha256:…) is expected: give REPOSITORY:TAG or REPOSITORY@sha256:…: %w", ref, ref[at+1:], errdef.ErrUsage)
	}
	if shown, ok := withoutCredentials(ref); ok {
		return fmt.Errorf("reference %q: no credentials in a reference (stella mirror login HOST -u USER --password-stdin saves them): give HOST[:PORT]/REPOSITORY[:TAG]: %w", shown, errdef.ErrUsage)
	}
	if strings.Contains(ref, "://") {
		return fmt.Errorf("reference %q: no scheme: give HOST[:PORT]/REPOSITORY[:TAG] (--plain-http talks plain HTTP to a registry without TLS): %w", ref, errdef.ErrUsage)
	}
	return nil
}

// tagAfterAt reports whether after, what follows the last @ of a reference,
// is a tag typed where its digest goes (busybox@latest, host/a/b@1.36):
// a valid tag, no digest's algorithm, no host (a name with a dot in its
// last label, a port, localhost), and before it a name or a repository
// path whose host holds no @ (USER:PASSWORD@ or TOKEN@ is credentials,
// and blanked).
func tagAfterAt(before, after string) bool {
	if bundle.DigestShaped(after) || !bundle.ValidTag(after) || bundle.HostShaped(after) {
		return false
	}
	if host, repo, path := strings.Cut(before, "/"); path {
		// A token's base64 (TOKEN/…@HOST, a host of one label) is no
		// repository: capitals, + and =.
		return !strings.Contains(host, "@") && bundle.ValidRepository(repo)
	}
	// A token before a host of one label (ghp_…@registry) is no name.
	return !strings.ContainsAny(before, ":@") && bundle.ValidRepository(before)
}

// withoutCredentials returns s with the user information before its host
// (USER:PASSWORD@ or TOKEN@, as a URL carries it) replaced by "***@", and
// whether there was any. An '@' before the first '/' is user information
// unless a digest follows it (REPOSITORY@sha256:…, without a host; a
// mistyped one too, which then fails as a digest, not as credentials).
func withoutCredentials(s string) (string, bool) {
	scheme, rest := "", s
	if i := strings.Index(s, "://"); i >= 0 {
		scheme, rest = s[:i+3], s[i+3:]
	}
	host, _, _ := strings.Cut(rest, "/")
	at := strings.LastIndexByte(host, '@')
	if at < 0 {
		// A token holding a / (base64: TOKEN/…@HOST/REPO) ends at the
		// last @ not a digest's, a host and a path after it: a
		// repository holds no @.
		for at = len(rest); at >= 0; {
			if at = strings.LastIndexByte(rest[:at], '@'); at < 0 || !bundle.DigestShaped(rest[at+1:]) {
				break
			}
		}
		if at < 0 {
			return s, false
		}
		// A host of one label (myreg) reads as a path's part too: it ends
		// credentials unless what is before the @ is a path on disk, or,
		// no path after it, a repository path (backups/bundle@site-a);
		// a token's base64 is none (capitals, + and =). With a scheme,
		// there is no path.
		if after, _, path := strings.Cut(rest[at+1:], "/"); scheme == "" && !bundle.HostShaped(after) && (pathOnDisk(rest[:at]) || !path && bundle.ValidRepository(rest[:at])) {
			return s, false
		}
	}
	if bundle.DigestShaped(rest[at+1:]) {
		return s, false // REPOSITORY@sha256:…, well-formed or mistyped
	}
	return scheme + "***@" + rest[at+1:], true
}

// pathOnDisk reports whether before, what precedes an @ with a / in it,
// reads as a path (/backups/2025/bundle@site-a/…, ./…, or below a
// directory that exists) rather than a token's base64.
func pathOnDisk(before string) bool {
	if strings.HasPrefix(before, "/") || strings.HasPrefix(before, ".") {
		return true
	}
	first, _, _ := strings.Cut(before, "/")
	_, err := os.Stat(first)
	return err == nil
}

// hostWithoutCredentials is withoutCredentials of a HOST[:PORT] (a
// --registry, serve's --addr), which holds no digest: every @ before the
// first / ends credentials, USER:PASSWORD@sha256:5000 (a host named
// sha256) as any other.
func hostWithoutCredentials(s string) (string, bool) {
	scheme, rest := "", s
	if i := strings.Index(s, "://"); i >= 0 {
		scheme, rest = s[:i+3], s[i+3:]
	}
	host, _, _ := strings.Cut(rest, "/")
	at := strings.LastIndexByte(host, '@')
	if at < 0 {
		// Credentials holding a / (a token's base64: TOKEN/…@HOST,
		// USER:PA/SS@HOST:PORT) end at the last @, a HOST[:PORT] after it:
		// not a digest, no path, no tag typed where a digest goes.
		at = strings.LastIndexByte(rest, '@')
		if at < 0 || tagAfterAt(rest[:at], rest[at+1:]) {
			return s, false
		}
		if bundle.DigestShaped(rest[at+1:]) || strings.Contains(rest[at+1:], "/") {
			// A reference given for the host (TOKEN/…@HOST/REPO…),
			// whose credentials are a reference's.
			return withoutCredentials(s)
		}
	}
	return scheme + "***@" + rest[at+1:], true
}

// withoutAt returns the value of a flag naming a repository path
// (--bundle-repo, --repo-prefix, doctor --repo) or a platform (--platform), neither of
// which holds an @, as it may be printed: all up to its last @ blanked,
// "***@…", a digest after it aside (REPO@sha256:…, a reference pasted
// whole, is shown as it is). Another @ there is credentials given by
// mistake (USER:PASSWORD@HOST/REPO pasted for a repository), whatever the
// password holds (a /, an @), and with no host after it.
func withoutAt(s string) string {
	rest, dg := s, ""
	if at := strings.LastIndexByte(s, '@'); at >= 0 && bundle.DigestShaped(s[at+1:]) {
		rest, dg = s[:at], s[at:]
	}
	if at := strings.LastIndexByte(rest, '@'); at >= 0 {
		return "***@" + rest[at+1:] + dg
	}
	return s
}

// checkRepoPrefix refuses a --repo-prefix (import, serve, sync) that is not
// a repository path, a leading or trailing / aside: it is joined to every
// image's repository as a path, which would clean "x/.." away (every image
// under its own name, as with no prefix) and "mirror/../prod" into
// "prod", and a prefix in capitals, or a flag taken as its value, would
// fail only as the first image's repository, naming neither.
func checkRepoPrefix(prefix string) error {
	if p := strings.Trim(prefix, "/"); prefix != "" && !bundle.ValidRepository(p) {
		return fmt.Errorf("--repo-prefix %q: want a repository path such as mirror or site/mirror (lowercase letters and digits; '.', '_' or '-' only between them; no empty, '.' or '..' part): %w", withoutAt(prefix), errdef.ErrUsage)
	}
	return nil
}
