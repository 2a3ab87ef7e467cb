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

// TestTrustKeyCertificateNamesPrefixedFlag: a certificate (a root CA's)
// given to --base-key or --bundle-key is refused saying to give it with
// --base-trust-root or --bundle-trust-root, the flag of the same command
// that takes it; it named --trust-root, which create and inventory do not
// have.
func TestTrustKeyCertificateNamesPrefixedFlag(t *testing.T) {
	ca := testutil.NewRootCA(t, "StellaOps Root CA")
	rootPEM := testutil.WritePEM(t, t.TempDir(), "root.pem", ca.Cert)
	dir := newBundle(t)
	priv, _ := testKeys(t, "cosign")
	sign(t, dir, priv)
	for _, prefix := range []string{"", "base-", "bundle-"} {
		_, err := verify(dir, mirror.TrustOptions{Keys: []string{rootPEM}, FlagPrefix: prefix})
		want := "--" + prefix + "trust-root"
		if !errors.Is(err, errdef.ErrUsage) || !strings.Contains(err.Error(), want) || !strings.Contains(err.Error(), rootPEM) {
			t.Errorf("--%skey %s: err = %v, want ErrUsage naming the file and %s", prefix, rootPEM, err, want)
		}
		if prefix != "" && strings.Contains(err.Error(), " --trust-root") {
			t.Errorf("--%skey %s: %q names --trust-root", prefix, rootPEM, err)
		}
	}
}
