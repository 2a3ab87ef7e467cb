package mirror_test

import (
	"context"
	"errors"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stellaops/mirror/internal/sample"
	"github.com/stellaops/mirror/internal/testutil"
	"github.com/stellaops/mirror/pkg/bundle"
	"github.com/stellaops/mirror/pkg/errdef"
	"github.com/stellaops/mirror/pkg/mirror"
)

// TestHeldRootsByTrustRoot: the readers that count only verified bundle
// roots (inventory, the rollback check) with --bundle-trust-root /
// --trust-root alone: the far side trusts a root CA, and each bundle
// carries its signer's certificate and chain in its files referrer. A root
// signed by a key whose certificate chains to the trusted CA counts; one
// pushed by someone else, with a certificate of another CA and a huge
// generation, does not; and the held bundle still refuses an older one.
func TestHeldRootsByTrustRoot(t *testing.T) {
	ctx := context.Background()
	ca := testutil.NewRootCA(t, "Root")
	signingCA := ca.Intermediate(t, "Signing CA")
	other := testutil.NewRootCA(t, "Other Root")
	otherCA := other.Intermediate(t, "Other Signing CA")
	pki := t.TempDir()
	rootPEM := testutil.WritePEM(t, pki, "root.pem", ca.Cert)
	chainPEM := testutil.WritePEM(t, pki, "chain.pem", signingCA.Cert)
	otherChainPEM := testutil.WritePEM(t, pki, "other-chain.pem", otherCA.Cert)
	trust := mirror.TrustOptions{TrustRoots: []string{rootPEM}}

	a := newSignedSample(t, sample.Spec{}, 100)
	leafPEM := testutil.WritePEM(t, pki, "leaf.pem", signingCA.Leaf(t, "signer", signerPub(t, a.priv), testutil.LeafOptions{}))
	sign(t, a.dir, a.priv, func(o *mirror.SignOptions) { o.Certificate, o.CertificateChain = leafPEM, chainPEM })
	target := testutil.Registry(t)
	iopts := importOpts(t, a.dir, target, a.pub)
	iopts.Trust = trust
	if _, err := mirror.Import(ctx, iopts); err != nil {
		t.Fatalf("import of A, trusted by its certificate: %v", err)
	}

	// Someone with push rights pushes a bundle signed with their own key,
	// certified by another CA, claiming generation 4000000000.
	f := &forgedRepo{a: a, target: target, repo: target + "/" + bundle.DefaultBundleRepository}
	attackerPriv, _ := testKeys(t, "attacker")
	attackerLeaf := testutil.WritePEM(t, pki, "attacker.pem", otherCA.Leaf(t, "attacker", signerPub(t, attackerPriv), testutil.LeafOptions{}))
	_, releaseF, advisoriesF := testutil.PushSample(t, a.source, sample.Spec{Version: "2099.1.0", Variant: 9})
	dirF := filepath.Join(t.TempDir(), "forged")
	fopts := createOpts(t, releaseF, advisoriesF, dirF)
	fopts.Generation = 4000000000
	if _, err := mirror.Create(ctx, fopts); err != nil {
		t.Fatal(err)
	}
	sign(t, dirF, attackerPriv, func(o *mirror.SignOptions) { o.Certificate, o.CertificateChain = attackerLeaf, otherChainPEM })
	forged, err := mirror.Push(ctx, mirror.PushOptions{Now: testNow, Source: dirF, Reference: f.repo, Client: testutil.Client(t), Transfer: transferOpts()})
	if err != nil {
		t.Fatal(err)
	}

	out := filepath.Join(t.TempDir(), "inventory.json")
	log, stderr := logBuffer()
	res, err := mirror.Inventory(ctx, mirror.InventoryOptions{Registry: target, Output: out, Trust: trust, Client: testutil.Client(t), Logger: log})
	if err != nil {
		t.Fatalf("inventory --bundle-trust-root: %v", err)
	}
	if res.Bundles != 1 || !res.RootsVerified || res.NotVerified != 1 || len(res.Skipped) != 1 || res.Skipped[0].Root != forged.Root {
		t.Errorf("inventory --bundle-trust-root: %+v, want A alone, the forged root %s skipped\n%s", res, forged.Root, stderr)
	}

	// The rollback check by the certificate: an older bundle, signed by the
	// certified key, is refused against A (generation 100), and the forged
	// root's claim does not count.
	_, releaseO, advisoriesO := testutil.PushSample(t, a.source, sample.Spec{Version: "2025.9.0", Variant: 3})
	dirO := filepath.Join(t.TempDir(), "older")
	oopts := createOpts(t, releaseO, advisoriesO, dirO)
	oopts.Generation = 99
	if _, err := mirror.Create(ctx, oopts); err != nil {
		t.Fatal(err)
	}
	sign(t, dirO, a.priv, func(o *mirror.SignOptions) { o.Certificate, o.CertificateChain = leafPEM, chainPEM })
	oi := importOpts(t, dirO, target, a.pub)
	oi.Trust = trust
	if _, err := mirror.Import(ctx, oi); !errors.Is(err, errdef.ErrGeneration) || !strings.Contains(err.Error(), "generation 100") {
		t.Errorf("import of generation 99 over A (100), by certificate: %v, want refused against generation 100", err)
	}
}
