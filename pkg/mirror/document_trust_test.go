package mirror_test

import (
	"context"
	"errors"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stellaops/mirror/internal/sample"
	"github.com/stellaops/mirror/internal/testutil"
	"github.com/stellaops/mirror/pkg/errdef"
	"github.com/stellaops/mirror/pkg/mirror"
)

// A signed volume list (like a catalog or an inventory) carries no
// certificate, so --trust-root alone can never verify it: that is refused
// as usage (exit 1), asking for the signer's --key, where it failed as a
// bad signature (exit 5: "do not import, report it") saying the bundle
// carries no certificate.pem.
func TestSignedDocumentNeedsAKey(t *testing.T) {
	ctx := context.Background()
	s := newSignedSample(t, sample.Spec{}, 0)
	res, err := mirror.Pack(ctx, mirror.PackOptions{Dir: s.dir, Output: filepath.Join(t.TempDir(), "bundle.tar.zst"), Split: 256 << 10, Key: s.priv, Password: testPass})
	if err != nil {
		t.Fatal(err)
	}
	root := testutil.WritePEM(t, t.TempDir(), "root.pem", testutil.NewRootCA(t, "Root").Cert)
	_, err = mirror.VerifyVolumes(ctx, res.VolumeList, mirror.TrustOptions{TrustRoots: []string{root}}, 2)
	if !errors.Is(err, errdef.ErrUsage) || errors.Is(err, errdef.ErrSignature) || !strings.Contains(err.Error(), "--key") || !strings.Contains(err.Error(), res.VolumeList) {
		t.Fatalf("err = %v, want a usage error naming the list and asking for --key", err)
	}
	// With the key as well, the key verifies it.
	if _, err := mirror.VerifyVolumes(ctx, res.VolumeList, mirror.TrustOptions{Keys: []string{s.pub}, TrustRoots: []string{root}}, 2); err != nil {
		t.Fatal(err)
	}
}
