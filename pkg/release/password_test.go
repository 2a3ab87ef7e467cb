package release

import (
	"errors"
	"strings"
	"testing"

	"github.com/stellaops/mirror/pkg/errdef"
)

// TestReleaseReferenceWithPassword: an image reference of a release file
// with credentials in it (USER:PASSWORD@HOST/…, as a URL carries them) was
// refused as "bad digest: invalid checksum digest format", echoing the
// password into the terminal and CI log; it is refused saying a reference
// holds no credentials, the password blanked (found by review).
func TestReleaseReferenceWithPassword(t *testing.T) {
	const secret = "hunter2-never-shown"
	for name, data := range map[string]string{
		"list":          "user:" + secret + "@registry.internal:5000/a/b@" + dg + "\n",
		"list, tag":     "user:" + secret + "@registry.internal:5000/a/b:1\n",
		"list, slash":   "user:" + secret + "/x@registry.internal/a/b@" + dg + "\n",
		"yaml, scheme":  "release:\n  version: \"1.0\"\n  channel: stable\n  components:\n    - name: a\n      image: https://user:" + secret + "@registry.internal/a/b@" + dg + "\n",
		"list, a token": secret + "@registry.internal/a/b@" + dg + "\n",
	} {
		_, err := Parse("r.yaml", []byte(data))
		if !errors.Is(err, errdef.ErrMalformed) || strings.Contains(err.Error(), secret) || !strings.Contains(err.Error(), "login") {
			t.Errorf("%s: %v; want it refused pointing at login, without the password", name, err)
		}
	}
}

// TestReleaseReferenceWithPasswordAndBadDigest: a release reference with
// credentials in it whose digest is also mistyped (cut short, as a paste
// that lost its end leaves it) was refused as "bad digest", echoing the
// password: the credentials were looked for only before an @ followed by
// no well-formed digest, so the digest's own @ hid them. An @ followed by
// a digest's algorithm is a digest's, well-formed or not (found by review).
func TestReleaseReferenceWithPasswordAndBadDigest(t *testing.T) {
	const secret = "hunter2-never-shown"
	short := dg[:len(dg)-1]
	for name, data := range map[string]string{
		"list":         "user:" + secret + "@registry.internal:5000/a/b@" + short + "\n",
		"list, slash":  "user:" + secret + "/x@registry.internal/a/b@sha256:\n",
		"yaml, scheme": "release:\n  version: \"1.0\"\n  channel: stable\n  components:\n    - name: a\n      image: https://user:" + secret + "@registry.internal/a/b@" + short + "\n",
		"yaml, sha512": "release:\n  version: \"1.0\"\n  components:\n    - name: a\n      image: user:" + secret + "@registry.internal/a/b@sha512:abc\n",
	} {
		_, err := Parse("r.yaml", []byte(data))
		if !errors.Is(err, errdef.ErrMalformed) || strings.Contains(err.Error(), secret) || !strings.Contains(err.Error(), "login") {
			t.Errorf("%s: %v; want it refused pointing at login, without the password", name, err)
		}
	}
}

// TestReleaseReferenceWithPasswordNoPath: a release reference of
// credentials before a host and nothing after it (USER:PASSWORD@HOST,
// TOKEN@HOST:PORT, a path and digest lost, or never typed) was refused as
// "bad digest", echoing the password: credentials were looked for only
// before an @ followed by a path. An @ followed by a host (a name with a
// dot or a port, localhost), or preceded by USER:PASSWORD holding no /,
// ends credentials too; a tag typed after an @ still fails as a bad
// digest, naming the reference (found by review).
func TestReleaseReferenceWithPasswordNoPath(t *testing.T) {
	const secret = "hunter2-never-shown"
	for name, data := range map[string]string{
		"list":                "user:" + secret + "@registry.internal\n",
		"list, port":          "user:" + secret + "@registry.internal:5000\n",
		"list, a token":       secret + "@registry.internal\n",
		"list, localhost":     secret + "@localhost\n",
		"list, @ in password": "user:p@" + secret + "@registry.internal\n",
		"list, no dot":        "user:" + secret + "@registry\n",
		"list, then a digest": "user:" + secret + "@registry.internal@sha256:abc\n",
		"yaml, scheme":        "release:\n  version: \"1.0\"\n  components:\n    - name: a\n      image: https://user:" + secret + "@registry.internal\n",
	} {
		_, err := Parse("r.yaml", []byte(data))
		if !errors.Is(err, errdef.ErrMalformed) || strings.Contains(err.Error(), secret) || !strings.Contains(err.Error(), "login") {
			t.Errorf("%s: %v; want it refused pointing at login, without the password", name, err)
		}
	}
	for _, ref := range []string{"registry.internal/a/b@latest", "registry.internal:5000/a/b@latest", "busybox@1.36"} {
		_, err := Parse("r.txt", []byte(ref+"\n"))
		if !errors.Is(err, errdef.ErrMalformed) || strings.Contains(err.Error(), "login") || !strings.Contains(err.Error(), ref) {
			t.Errorf("%s: %v; want it refused as a bad digest, naming it", ref, err)
		}
	}
}

// TestReleaseListPasswordWithHash: a plain list's line whose reference
// holds credentials with a # in the password (user:p#ss@HOST/…) was cut
// at the #, as a comment, and what was left, user:p, taken for an image
// on docker.io: refused as "docker.io/library/user:p is not pinned by
// digest", the password's start printed. A # begins a comment at the
// start of a line or after a blank, as in YAML and the shell; one
// within a reference is part of it (found by review).
func TestReleaseListPasswordWithHash(t *testing.T) {
	const secret = "hunter2"
	for name, data := range map[string]string{
		"hash":        "user:" + secret + "#x@registry.internal/a/b@" + dg + "\n",
		"@ and hash":  "user:" + secret + "@y#x@registry.internal/a/b@" + dg + "\n",
		"no path":     "user:" + secret + "#x@registry.internal\n",
		"and comment": "user:" + secret + "#x@registry.internal/a/b@" + dg + " # the app\n",
	} {
		_, err := Parse("r.txt", []byte(data))
		if !errors.Is(err, errdef.ErrMalformed) || strings.Contains(err.Error(), secret) || !strings.Contains(err.Error(), "login") {
			t.Errorf("%s: %v; want it refused pointing at login, without the password", name, err)
		}
	}
	rel, err := Parse("r.txt", []byte("# images\nregistry.internal/a/b@"+dg+" # the app\n\t# more\nregistry.internal/c/d@"+dg+"\t# another\n"))
	if err != nil || len(rel.Images) != 2 {
		t.Fatalf("a list with comments: %v", err)
	}
}
