package mirror_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stellaops/mirror/internal/sample"
	"github.com/stellaops/mirror/internal/testutil"
	"github.com/stellaops/mirror/pkg/errdef"
	"github.com/stellaops/mirror/pkg/mirror"
)

// TestCreateBaseKeyWithoutBase: create --base-key (or --base-trust-root)
// without --base was dropped without a word: the operator meant a delta
// and got a full bundle, exit 0. It is refused, naming the flag and
// --base, before any request; nothing is written.
func TestCreateBaseKeyWithoutBase(t *testing.T) {
	host := testutil.Registry(t)
	_, releaseFile, advisories := testutil.PushSample(t, host, sample.Spec{})
	_, pub := testKeys(t, "far")
	for _, trust := range []mirror.TrustOptions{{Keys: []string{pub}, FlagPrefix: "base-"}, {TrustRoots: []string{pub}, FlagPrefix: "base-"}} {
		out := filepath.Join(t.TempDir(), "bundle")
		opts := createOpts(t, releaseFile, advisories, out)
		opts.BaseTrust = trust
		_, err := mirror.Create(context.Background(), opts)
		if !errors.Is(err, errdef.ErrUsage) || !strings.Contains(err.Error(), "needs --base") {
			t.Errorf("%+v: err = %v, want ErrUsage and %q", trust, err, "needs --base")
		}
		if _, err := os.Lstat(out); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("%s written", out)
		}
	}
}
