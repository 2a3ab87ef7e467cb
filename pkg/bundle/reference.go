package bundle

import (
	"fmt"
	"net"
	"path"
	"strings"

	"github.com/opencontainers/go-digest"
	"oras.land/oras-go/v2/registry"
)

// ImageRef is a parsed image reference: registry host, repository path, and a
// tag, a digest or both.
type ImageRef struct {
	Registry   string
	Repository string
	Tag        string
	Digest     digest.Digest
}

// dockerHub is the registry a reference without a host names, as docker and
// every OCI tool read it.
const dockerHub = "docker.io"

// ParseImageRef parses "[host[:port]/]path/name[:tag][@sha256:hex]". A
// reference without a registry host is read as docker does: on docker.io,
// under library/ when it has one path segment.
func ParseImageRef(s string) (ImageRef, error) {
	var ref ImageRef
	if shown, ok := withoutUserinfo(s); ok {
		return ref, fmt.Errorf("reference %q: no credentials in a reference (stella mirror login HOST -u USER --password-stdin saves them)", shown)
	}
	rest := s
	if i := strings.Index(rest, "@"); i >= 0 {
		d, err := digest.Parse(rest[i+1:])
		if err != nil {
			return ref, fmt.Errorf("reference %q: bad digest: %v", s, err)
		}
		if d.Algorithm() != digest.SHA256 {
			return ref, fmt.Errorf("reference %q: digest is not sha256", s)
		}
		ref.Digest = d
		rest = rest[:i]
	}
	// A tag follows the last colon after the last slash; an earlier colon is
	// a port.
	if i := strings.LastIndex(rest, ":"); i > strings.LastIndex(rest, "/") {
		ref.Tag = rest[i+1:]
		rest = rest[:i]
		if !ValidTag(ref.Tag) {
			return ref, fmt.Errorf("reference %q: tag %q is not valid", s, ref.Tag)
		}
	}
	host, repo, found := strings.Cut(rest, "/")
	if !found || !(strings.ContainsAny(host, ".:") || host == "localhost") {
		host, repo = dockerHub, rest
	}
	if host == dockerHub && !strings.Contains(repo, "/") {
		repo = "library/" + repo
	}
	ref.Registry, ref.Repository = host, repo
	check := registry.Reference{Registry: ref.Registry, Repository: ref.Repository}
	if err := check.ValidateRegistry(); err != nil {
		return ref, fmt.Errorf("reference %q: registry %q is not valid", s, host)
	}
	if !ValidRepository(repo) {
		return ref, fmt.Errorf("reference %q: repository %q is not valid", s, repo)
	}
	if ref.Tag == "" && ref.Digest == "" {
		return ref, fmt.Errorf("reference %q has neither tag nor digest", s)
	}
	return ref, nil
}

// String returns the reference in its canonical form.
func (r ImageRef) String() string {
	s := r.Registry + "/" + r.Repository
	if r.Tag != "" {
		s += ":" + r.Tag
	}
	if r.Digest != "" {
		s += "@" + r.Digest.String()
	}
	return s
}

// Name returns "host/repository", the reference without tag or digest.
func (r ImageRef) Name() string { return r.Registry + "/" + r.Repository }

// MapRepository is the plan's load.sh rule: an image from
// host/path/name is placed at <registry>/[prefix/]path/name. repository is the
// source path without its host, as manifest.json records it.
func MapRepository(prefix, repository string) string {
	if prefix == "" {
		return repository
	}
	return path.Join(strings.Trim(prefix, "/"), repository)
}

// DefaultBundleRepository is the repository a bundle itself (root, metadata,
// signature) is placed in on the far side, unless the operator names another.
const DefaultBundleRepository = "stellaops/mirror-bundle"

// withoutUserinfo returns s with the credentials before its host
// ([scheme://]USER:PASSWORD@ or TOKEN@, as a URL carries them) blanked,
// and whether it held any: an @ followed by a host (with or without a
// path) or preceded by USER:PASSWORD, not by a digest (name@sha256:…,
// well-formed or mistyped: DigestShaped). The last such @ ends them, so a
// password may hold an @ or a /. They would otherwise fail as a bad
// digest, echoed whole into the terminal and a CI log.
func withoutUserinfo(s string) (string, bool) {
	start := 0
	if i := strings.Index(s, "://"); i >= 0 {
		start = i + 3
	}
	at := len(s)
	for {
		at = strings.LastIndex(s[:at], "@")
		if at < start {
			return s, false
		}
		if !DigestShaped(s[at+1:]) {
			break
		}
	}
	// Without a path after it, the @ still ends credentials where a host
	// follows it (USER:PASSWORD@HOST, TOKEN@HOST:PORT, a path lost) or
	// USER:PASSWORD precedes it (a user name holds no /); a tag typed
	// after an @ (busybox@latest, host/a/b@1.36) fails as a bad digest.
	host, _, _ := strings.Cut(s[at+1:], "@")
	user, _, userPassword := strings.Cut(s[start:at], ":")
	// With a scheme, an @ before the host ends credentials whatever
	// follows it; so does one after what is no name (a token, TOKEN/…:
	// capitals, + and =), which no tag typed there follows.
	_, repo, path := strings.Cut(s[:at], "/")
	if !path {
		repo = s[:at]
	}
	if start == 0 && ValidRepository(repo) && !strings.Contains(s[at+1:], "/") && !HostShaped(host) && !(userPassword && !strings.Contains(s[start:at], "/")) {
		return s, false
	}
	shown := "***"
	if userPassword {
		shown = user + ":***"
	}
	return s[:start] + shown + s[at:], true
}

// HostShaped reports whether h reads as a registry host: localhost, one
// with a port, an IP address, or a name whose last label is not digits
// alone (registry.internal, not the 1.36 of a tag).
func HostShaped(h string) bool {
	if h == "localhost" || strings.Contains(h, ":") || net.ParseIP(h) != nil {
		return true
	}
	i := strings.LastIndex(h, ".")
	return i >= 0 && strings.Trim(h[i+1:], "0123456789") != ""
}

// DigestShaped reports whether s, what follows an @ in a reference, is a
// digest, well-formed or not: ALGORITHM:… of an algorithm digests use
// (sha256:, sha512:, in capitals too), as a digest cut short or mistyped
// still is. Such an @ is no end of credentials before a host, whatever
// its digest's fault.
// A digest holds no /: ALGORITHM:PORT/… is a host (named sha256) and path.
func DigestShaped(s string) bool {
	if strings.Contains(s, "/") {
		return false
	}
	alg, _, ok := strings.Cut(s, ":")
	// SHA256:… as some tools print it is a digest mistyped, not a host.
	switch digest.Algorithm(strings.ToLower(alg)) {
	case digest.SHA256, digest.SHA384, digest.SHA512:
		return ok
	}
	return false
}
