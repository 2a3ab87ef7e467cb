package mirror_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/x509"
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stellaops/mirror/internal/testutil"
	"github.com/stellaops/mirror/pkg/errdef"
	"github.com/stellaops/mirror/pkg/keys"
	"github.com/stellaops/mirror/pkg/mirror"
)

// signerPub loads the public key of a private key file.
func signerPub(t *testing.T, priv string) *ecdsa.PublicKey {
	t.Helper()
	s, err := keys.LoadSigner(context.Background(), priv, testPass)
	if err != nil {
		t.Fatal(err)
	}
	return s.Public()
}

// The key hierarchy of plan §2.1: a root CA, a signing CA, the signing key's
// certificate carried in the bundle, verified offline against the root.
func TestVerifyWithTrustRoot(t *testing.T) {
	signedDir := newBundle(t)
	priv, _ := testKeys(t, "mirror-signing")
	pub := signerPub(t, priv)
	root := testutil.NewRootCA(t, "StellaOps Root CA")
	signing := root.Intermediate(t, "StellaOps Signing CA")
	pki := t.TempDir()
	rootPEM := testutil.WritePEM(t, pki, "root.pem", root.Cert)
	chainPEM := testutil.WritePEM(t, pki, "chain.pem", signing.Cert)
	foreignPEM := testutil.WritePEM(t, pki, "foreign.pem", testutil.NewRootCA(t, "Other Root").Cert)
	signWith := func(t *testing.T, leaf *x509.Certificate) string {
		dir := copyBundle(t, signedDir)
		leafPEM := testutil.WritePEM(t, t.TempDir(), "leaf.pem", leaf)
		sign(t, dir, priv, func(o *mirror.SignOptions) { o.Certificate, o.CertificateChain = leafPEM, chainPEM })
		return dir
	}
	good := signWith(t, signing.Leaf(t, "mirror-signing", pub, testutil.LeafOptions{}))
	for _, f := range []string{"certificate.pem", "certificate-chain.pem"} {
		if _, err := os.Stat(filepath.Join(good, f)); err != nil {
			t.Fatalf("%s not carried: %v", f, err)
		}
	}
	tests := []struct {
		name    string
		dir     string
		trust   mirror.TrustOptions
		wantErr error
	}{
		{"chains to the root", good, mirror.TrustOptions{TrustRoots: []string{rootPEM}}, nil},
		{"foreign root", good, mirror.TrustOptions{TrustRoots: []string{foreignPEM}}, errdef.ErrSignature},
		{"verified after expiry", good, mirror.TrustOptions{TrustRoots: []string{rootPEM}, Now: time.Now().Add(48 * time.Hour)}, errdef.ErrSignature},
		{"expired certificate", signWith(t, signing.Leaf(t, "old", pub, testutil.LeafOptions{NotBefore: time.Now().Add(-48 * time.Hour), NotAfter: time.Now().Add(-time.Hour)})),
			mirror.TrustOptions{TrustRoots: []string{rootPEM}}, errdef.ErrSignature},
		{"wrong usage", signWith(t, signing.Leaf(t, "tls", pub, testutil.LeafOptions{ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}})),
			mirror.TrustOptions{TrustRoots: []string{rootPEM}}, errdef.ErrSignature},
		{"no certificate carried", signedDirSignedPlain(t, signedDir, priv), mirror.TrustOptions{TrustRoots: []string{rootPEM}}, errdef.ErrSignature},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := verify(tt.dir, tt.trust)
			if !errors.Is(err, tt.wantErr) || (tt.wantErr == nil) != (err == nil) {
				t.Fatalf("err = %v, want %v", err, tt.wantErr)
			}
		})
	}
	t.Run("certificate of another key refused at signing", func(t *testing.T) {
		otherPriv, _ := testKeys(t, "other")
		leafPEM := testutil.WritePEM(t, t.TempDir(), "leaf.pem", signing.Leaf(t, "other", signerPub(t, otherPriv), testutil.LeafOptions{}))
		_, err := mirror.Sign(context.Background(), mirror.SignOptions{
			Manifest: filepath.Join(good, "manifest.json"), Output: filepath.Join(good, "manifest.dsse"),
			Key: priv, Password: testPass, Certificate: leafPEM,
		})
		if !errors.Is(err, errdef.ErrUsage) {
			t.Fatalf("err = %v, want ErrUsage", err)
		}
	})
	t.Run("SHA256SUMS.sig against the root", func(t *testing.T) {
		if _, err := mirror.VerifyChecksums(context.Background(), mirror.ChecksumsOptions{Dir: good, Trust: mirror.TrustOptions{TrustRoots: []string{rootPEM}}}); err != nil {
			t.Fatal(err)
		}
	})
}

func signedDirSignedPlain(t *testing.T, src, priv string) string {
	dir := copyBundle(t, src)
	sign(t, dir, priv)
	return dir
}
