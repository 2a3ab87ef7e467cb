package mirror_test

import (
	"context"
	"os"
	"path/filepath"
	"reflect"
	"testing"

	"github.com/stellaops/mirror/internal/testutil"
	"github.com/stellaops/mirror/pkg/mirror"
)

// TestPlainSignFailedAtCertificatesPutsBack: a sign of a manifest.json
// outside a bundle, with --certificate and --certificate-chain, that fails
// writing the certificates (here certificate-chain.pem, a directory it
// cannot replace, as a full disk or EIO would cut it) puts back the
// envelope and certificate.pem as they were. It left the new envelope
// beside the certificates of the old one (or, as here, a new
// certificate.pem without its chain).
func TestPlainSignFailedAtCertificatesPutsBack(t *testing.T) {
	ctx := context.Background()
	bundleDir := newBundle(t)
	dir := t.TempDir()
	manifest := filepath.Join(dir, "manifest.json")
	writeFile(t, manifest, string(readFile(t, filepath.Join(bundleDir, "manifest.json"))))
	ca := testutil.NewRootCA(t, "StellaOps Root CA")
	signingCA := ca.Intermediate(t, "StellaOps Signing CA")
	pki := t.TempDir()
	chainPEM := testutil.WritePEM(t, pki, "chain.pem", signingCA.Cert)
	first, _ := testKeys(t, "first")
	second, _ := testKeys(t, "second")
	firstLeaf := testutil.WritePEM(t, pki, "first.pem", ca.Leaf(t, "first", signerPub(t, first), testutil.LeafOptions{}))
	secondLeaf := testutil.WritePEM(t, pki, "second.pem", signingCA.Leaf(t, "second", signerPub(t, second), testutil.LeafOptions{}))
	signWith := func(key, cert, chain string) error {
		_, err := mirror.Sign(ctx, mirror.SignOptions{Manifest: manifest, Key: key, Password: testPass, Created: fixedTime, Certificate: cert, CertificateChain: chain})
		return err
	}
	if err := signWith(first, firstLeaf, ""); err != nil {
		t.Fatal(err)
	}
	before := readTree(t, dir)
	obstacle := filepath.Join(dir, "certificate-chain.pem")
	if err := os.MkdirAll(filepath.Join(obstacle, "x"), 0o755); err != nil {
		t.Fatal(err)
	}
	err := signWith(second, secondLeaf, chainPEM)
	if err == nil {
		t.Fatal("sign went past a certificate-chain.pem it cannot write")
	}
	if err := os.RemoveAll(obstacle); err != nil {
		t.Fatal(err)
	}
	if after := readTree(t, dir); !reflect.DeepEqual(before, after) {
		for name := range after {
			if before[name] != after[name] {
				t.Errorf("the failed sign (%v) changed or left %s", err, name)
			}
		}
	}
	byRoot := mirror.TrustOptions{TrustRoots: []string{testutil.WritePEM(t, pki, "root.pem", ca.Cert)}}
	if _, err := mirror.Verify(ctx, mirror.VerifyOptions{Envelope: filepath.Join(dir, "manifest.dsse"), Trust: byRoot, SignatureOnly: true}); err != nil {
		t.Errorf("verify --trust-root after the failed sign: %v", err)
	}
}
