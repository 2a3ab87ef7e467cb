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
