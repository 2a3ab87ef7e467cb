package mirror

import (
	"fmt"
	"strings"

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
	switch {
	case host == "":
		return fmt.Errorf("%s: want HOST[:PORT]: %w", what, errdef.ErrUsage)
	case strings.Contains(host, "://"):
		return fmt.Errorf("%s %q: want HOST[:PORT], no scheme (--plain-http talks plain HTTP to a registry without TLS): %w", what, host, errdef.ErrUsage)
	case strings.Contains(host, "/"):
		return fmt.Errorf("%s %q: want HOST[:PORT], no path (import puts the images under a path with --repo-prefix): %w", what, host, errdef.ErrUsage)
	}
	return nil
}

// refuseScheme refuses a registry reference written as a URL
// (http://HOST:PORT/REPO:TAG, as a browser or a registry's web page has
// it), which the reference grammar would fail as an invalid repository
// "/HOST", or a bundle source take for a file that is not found.
func refuseScheme(ref string) error {
	if strings.Contains(ref, "://") {
		return fmt.Errorf("reference %q: no scheme: give HOST[:PORT]/REPOSITORY[:TAG] (--plain-http talks plain HTTP to a registry without TLS): %w", ref, errdef.ErrUsage)
	}
	return nil
}
