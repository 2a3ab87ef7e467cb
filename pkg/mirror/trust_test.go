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
	t.Parallel()
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
	// A certificate sign refuses reaches the far side only by being put in
	// place of the one signed with: the bundle as a forger would carry it.
	carrying := func(t *testing.T, leaf *x509.Certificate) string {
		dir := copyBundle(t, good)
		testutil.WritePEM(t, dir, "certificate.pem", leaf)
		return dir
	}
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
		{"expired certificate", carrying(t, signing.Leaf(t, "old", pub, testutil.LeafOptions{NotBefore: time.Now().Add(-48 * time.Hour), NotAfter: time.Now().Add(-time.Hour)})),
			mirror.TrustOptions{TrustRoots: []string{rootPEM}}, errdef.ErrSignature},
		{"wrong usage", carrying(t, signing.Leaf(t, "tls", pub, testutil.LeafOptions{ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}})),
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
	// What every verify --trust-root refuses is refused at signing, before
	// the media carry it across, and the bundle is left as it was.
	t.Run("certificate no root accepts refused at signing", func(t *testing.T) {
		now := time.Now()
		rootChain := testutil.WritePEM(t, pki, "root-only.pem", root.Cert)
		cases := []struct {
			name  string
			leaf  *x509.Certificate
			chain string
		}{
			{"expired", signing.Leaf(t, "old", pub, testutil.LeafOptions{NotBefore: now.Add(-48 * time.Hour), NotAfter: now.Add(-time.Hour)}), chainPEM},
			{"not yet valid", signing.Leaf(t, "future", pub, testutil.LeafOptions{NotBefore: now.Add(time.Hour)}), chainPEM},
			{"TLS server only", signing.Leaf(t, "tls", pub, testutil.LeafOptions{ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}), chainPEM},
			{"no digitalSignature", signing.Leaf(t, "enc", pub, testutil.LeafOptions{KeyUsage: x509.KeyUsageKeyEncipherment}), chainPEM},
			{"chain without its intermediate", signing.Leaf(t, "mirror-signing", pub, testutil.LeafOptions{}), rootChain},
			{"expired, no chain", root.Leaf(t, "old", pub, testutil.LeafOptions{NotBefore: now.Add(-48 * time.Hour), NotAfter: now.Add(-time.Hour)}), ""},
		}
		for _, c := range cases {
			t.Run(c.name, func(t *testing.T) {
				dir := copyBundle(t, good)
				before := string(readFile(t, filepath.Join(dir, "manifest.dsse")))
				leafPEM := testutil.WritePEM(t, t.TempDir(), "leaf.pem", c.leaf)
				_, err := mirror.Sign(context.Background(), mirror.SignOptions{
					Manifest: filepath.Join(dir, "manifest.json"), Output: filepath.Join(dir, "manifest.dsse"),
					Key: priv, Password: testPass, Certificate: leafPEM, CertificateChain: c.chain,
				})
				if !errors.Is(err, errdef.ErrUsage) {
					t.Fatalf("err = %v, want ErrUsage", err)
				}
				if after := string(readFile(t, filepath.Join(dir, "manifest.dsse"))); after != before {
					t.Error("manifest.dsse changed")
				}
			})
		}
		// The chain given root first is the same chain.
		dir := copyBundle(t, good)
		reversed := testutil.WritePEM(t, pki, "reversed.pem", root.Cert, signing.Cert)
		sign(t, dir, priv, func(o *mirror.SignOptions) {
			o.Certificate = testutil.WritePEM(t, t.TempDir(), "leaf.pem", signing.Leaf(t, "mirror-signing", pub, testutil.LeafOptions{}))
			o.CertificateChain = reversed
		})
		if _, err := verify(dir, mirror.TrustOptions{TrustRoots: []string{rootPEM}}); err != nil {
			t.Fatal(err)
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
