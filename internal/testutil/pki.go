package testutil

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// CA is a test certificate authority: the plan's key hierarchy (root CA,
// signing CA, signing keys) built in memory.
type CA struct {
	Cert *x509.Certificate
	Key  *ecdsa.PrivateKey
}

// LeafOptions shape a signing certificate. The zero value is a valid code
// signing leaf, valid from an hour ago for a day.
type LeafOptions struct {
	NotBefore, NotAfter time.Time
	// KeyUsage defaults to digitalSignature; NoKeyUsage leaves it unset.
	KeyUsage   x509.KeyUsage
	NoKeyUsage bool
	// ExtKeyUsage defaults to codeSigning.
	ExtKeyUsage []x509.ExtKeyUsage
	// EmailAddresses are subject alternative names; with an empty name
	// they are the certificate's only identity (its subject is empty).
	EmailAddresses []string
}

// NewCert makes tmpl a certificate of pub, with a random serial number,
// issued by parent (self-signed with parent nil) and signed by signer.
func NewCert(t testing.TB, tmpl *x509.Certificate, parent *CA, pub crypto.PublicKey, signer *ecdsa.PrivateKey) *x509.Certificate {
	t.Helper()
	sn, err := rand.Int(rand.Reader, big.NewInt(1<<62))
	if err != nil {
		t.Fatal(err)
	}
	tmpl.SerialNumber = sn
	p := tmpl
	if parent != nil {
		p = parent.Cert
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, p, pub, signer)
	if err != nil {
		t.Fatal(err)
	}
	c, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func newKey(t testing.TB) *ecdsa.PrivateKey {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// NewRootCA makes a self-signed root CA valid for a year around now.
func NewRootCA(t testing.TB, name string) *CA {
	t.Helper()
	k := newKey(t)
	tmpl := &x509.Certificate{
		Subject: pkix.Name{CommonName: name}, NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(365 * 24 * time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign,
	}
	return &CA{Cert: NewCert(t, tmpl, nil, &k.PublicKey, k), Key: k}
}

// Intermediate makes a signing CA under ca.
func (ca *CA) Intermediate(t testing.TB, name string) *CA {
	t.Helper()
	k := newKey(t)
	tmpl := &x509.Certificate{
		Subject: pkix.Name{CommonName: name}, NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(180 * 24 * time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign,
	}
	return &CA{Cert: NewCert(t, tmpl, ca, &k.PublicKey, ca.Key), Key: k}
}

// Leaf certifies pub as a signing key.
func (ca *CA) Leaf(t testing.TB, name string, pub crypto.PublicKey, o LeafOptions) *x509.Certificate {
	t.Helper()
	if o.NotBefore.IsZero() {
		o.NotBefore = time.Now().Add(-time.Hour)
	}
	if o.NotAfter.IsZero() {
		o.NotAfter = time.Now().Add(24 * time.Hour)
	}
	if o.KeyUsage == 0 && !o.NoKeyUsage {
		o.KeyUsage = x509.KeyUsageDigitalSignature
	}
	if o.ExtKeyUsage == nil {
		o.ExtKeyUsage = []x509.ExtKeyUsage{x509.ExtKeyUsageCodeSigning}
	}
	tmpl := &x509.Certificate{
		Subject: pkix.Name{CommonName: name}, NotBefore: o.NotBefore, NotAfter: o.NotAfter,
		KeyUsage: o.KeyUsage, ExtKeyUsage: o.ExtKeyUsage, BasicConstraintsValid: true,
		EmailAddresses: o.EmailAddresses,
	}
	if name == "" {
		tmpl.Subject = pkix.Name{}
	}
	return NewCert(t, tmpl, ca, pub, ca.Key)
}

// WritePEM writes certificates as PEM into dir/name and returns the path.
func WritePEM(t testing.TB, dir, name string, certs ...*x509.Certificate) string {
	t.Helper()
	var out []byte
	for _, c := range certs {
		out = append(out, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: c.Raw})...)
	}
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, out, 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// ServerCert makes a TLS server certificate for 127.0.0.1 and localhost
// under ca, and writes it and its key as PEM into dir.
func (ca *CA) ServerCert(t testing.TB, dir string) (certFile, keyFile string) {
	t.Helper()
	k := newKey(t)
	tmpl := &x509.Certificate{
		Subject: pkix.Name{CommonName: "127.0.0.1"}, NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		IPAddresses: []net.IP{net.ParseIP("127.0.0.1")}, DNSNames: []string{"localhost"}, BasicConstraintsValid: true,
	}
	cert := NewCert(t, tmpl, ca, &k.PublicKey, ca.Key)
	certFile = WritePEM(t, dir, "server.pem", cert, ca.Cert)
	der, err := x509.MarshalECPrivateKey(k)
	if err != nil {
		t.Fatal(err)
	}
	keyFile = filepath.Join(dir, "server.key")
	if err := os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	return certFile, keyFile
}
