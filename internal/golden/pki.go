package golden

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"os"
	"path/filepath"
	"time"
)

// The test PKI's validity: from before the first generation to a century
// on, so that the golden tests do not rot. The root's private key is
// thrown away once the leaf is made.
var (
	pkiNotBefore = time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	pkiNotAfter  = time.Date(2125, 1, 1, 0, 0, 0, 0, time.UTC)
)

// pkiFiles are the PEM files sign takes: the leaf (--certificate) and the
// root (--certificate-chain, the chain's anchor).
type pkiFiles struct{ leaf, root string }

// newPKI makes a root CA (written to keysDir/root.pem, the trust root) and
// a code-signing leaf for the public key of priv (written to leaf).
func newPKI(keysDir, leaf, priv string) (*pkiFiles, error) {
	pub, err := loadPublic(context.Background(), priv)
	if err != nil {
		return nil, err
	}
	rootKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	rootTmpl := &x509.Certificate{
		Subject:   pkix.Name{CommonName: "StellaOps Mirror Golden Root CA"},
		NotBefore: pkiNotBefore, NotAfter: pkiNotAfter,
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign,
	}
	root, err := certify(rootTmpl, rootTmpl, &rootKey.PublicKey, rootKey)
	if err != nil {
		return nil, err
	}
	leafTmpl := &x509.Certificate{
		Subject:   pkix.Name{CommonName: "StellaOps Mirror Golden Signer"},
		NotBefore: pkiNotBefore, NotAfter: pkiNotAfter,
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageCodeSigning},
		BasicConstraintsValid: true,
	}
	leafCert, err := certify(leafTmpl, root, pub, rootKey)
	if err != nil {
		return nil, err
	}
	files := &pkiFiles{leaf: leaf, root: filepath.Join(keysDir, "root.pem")}
	if err := writePEM(files.root, root); err != nil {
		return nil, err
	}
	return files, writePEM(files.leaf, leafCert)
}

func certify(tmpl, parent *x509.Certificate, pub crypto.PublicKey, signer *ecdsa.PrivateKey) (*x509.Certificate, error) {
	sn, err := rand.Int(rand.Reader, big.NewInt(1<<62))
	if err != nil {
		return nil, err
	}
	tmpl.SerialNumber = sn
	der, err := x509.CreateCertificate(rand.Reader, tmpl, parent, pub, signer)
	if err != nil {
		return nil, err
	}
	return x509.ParseCertificate(der)
}

func writePEM(path string, c *x509.Certificate) error {
	return os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: c.Raw}), 0o644)
}
