package mirror_test

import (
	"context"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stellaops/mirror/internal/testutil"
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
