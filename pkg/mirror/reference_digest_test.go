package mirror_test

import (
	"context"
	"errors"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stellaops/mirror/internal/testutil"
	"github.com/stellaops/mirror/pkg/errdef"
	"github.com/stellaops/mirror/pkg/mirror"
)

// TestMistypedDigestNotCredentials: a reference without a host whose digest
// is mistyped (busybox@sha256:abc, a paste cut short) was refused as
// holding credentials, `reference "***@sha256:abc": no credentials in a
// reference (stella mirror login HOST saves them)`: the name blanked, and
// login advised for a typo. An @ followed by a digest's algorithm is a
// digest's, well-formed or not; one followed by anything else before the
// first / is still taken for credentials, and blanked (found by review).
func TestMistypedDigestNotCredentials(t *testing.T) {
	ctx := context.Background()
	_, err := mirror.Pull(ctx, mirror.PullOptions{Reference: "busybox@sha256:abc", Output: filepath.Join(t.TempDir(), "b"), Client: testutil.Client(t)})
	if err == nil || strings.Contains(err.Error(), "credentials") || strings.Contains(err.Error(), "***") || !strings.Contains(err.Error(), "busybox@sha256:abc") {
		t.Errorf("pull busybox@sha256:abc: %v; want it refused naming the reference, not as holding credentials", err)
	}
	const secret = "hunter2-never-shown"
	_, err = mirror.Pull(ctx, mirror.PullOptions{Reference: "user:" + secret + "@registry.internal/a/b:1", Output: filepath.Join(t.TempDir(), "b"), Client: testutil.Client(t)})
	if err == nil || strings.Contains(err.Error(), secret) || !strings.Contains(err.Error(), "credentials") {
		t.Errorf("pull of a reference with credentials: %v; want it refused, the password blanked", err)
	}
}

// TestCredentialsBeforeHostNamedSha256: pull user:PASSWORD@sha256:5000/a/b:1
// (a host named sha256) was taken for name@digest and failed as a bad
// registry, `bundle reference "user:PASSWORD@sha256:5000/a/b:1": invalid
// reference`, the password printed: a digest holds no / (found by review).
func TestCredentialsBeforeHostNamedSha256(t *testing.T) {
	const secret = "hunter2-never-shown"
	for _, ref := range []string{"user:" + secret + "@sha256:5000/a/b:1", secret + "@sha256:5000/a/b:1"} {
		_, err := mirror.Pull(context.Background(), mirror.PullOptions{Reference: ref, Output: filepath.Join(t.TempDir(), "b"), Client: testutil.Client(t)})
		if err == nil || strings.Contains(err.Error(), secret) || !strings.Contains(err.Error(), "credentials") {
			t.Errorf("pull %s: %v; want it refused as holding credentials, the password blanked", strings.ReplaceAll(ref, secret, "SECRET"), err)
		}
	}
}

// TestTagAfterAtNotCredentials: a tag typed where the digest goes
// (pull busybox@latest, host/a/b@1.36) was refused as holding credentials,
// `reference "***@latest": no credentials in a reference`, the name
// blanked and login advised, or failed as "invalid checksum digest
// format": it is refused naming the reference and saying a tag follows
// the @ where a digest is expected (found by review).
func TestTagAfterAtNotCredentials(t *testing.T) {
	for _, ref := range []string{"busybox@latest", "127.0.0.1:5000/a/b@1.36"} {
		_, err := mirror.Pull(context.Background(), mirror.PullOptions{Reference: ref, Output: filepath.Join(t.TempDir(), "b"), Client: testutil.Client(t)})
		if err == nil || !errors.Is(err, errdef.ErrUsage) || strings.Contains(err.Error(), "credentials") || strings.Contains(err.Error(), "***") || !strings.Contains(err.Error(), ref) || !strings.Contains(err.Error(), "is a tag") {
			t.Errorf("pull %s: %v; want it refused as a tag where a digest goes, naming the reference", ref, err)
		}
	}
	const secret = "hunter2-never-shown"
	for _, ref := range []string{"user:" + secret + "@latest", secret + "@registry.internal/a/b@1.36"} {
		_, err := mirror.Pull(context.Background(), mirror.PullOptions{Reference: ref, Output: filepath.Join(t.TempDir(), "b"), Client: testutil.Client(t)})
		if err == nil || strings.Contains(err.Error(), secret) {
			t.Errorf("pull %s: %v; want it refused, the password blanked", strings.ReplaceAll(ref, secret, "SECRET"), err)
		}
	}
}
