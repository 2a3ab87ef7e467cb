package keys_test

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"encoding/pem"
	"errors"
	"math/big"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stellaops/mirror/internal/testutil"
	"github.com/stellaops/mirror/pkg/errdef"
	"github.com/stellaops/mirror/pkg/keys"
)

func TestVerifyChain(t *testing.T) {
	root := testutil.NewRootCA(t, "StellaOps Root CA")
	signing := root.Intermediate(t, "StellaOps Signing CA")
	foreign := testutil.NewRootCA(t, "Someone Else").Intermediate(t, "Their Signing CA")
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	p384, _ := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	pub := &key.PublicKey
	roots := []*x509.Certificate{root.Cert}
	now := time.Now()
	// A signer's own valid leaf, used as the issuer of another key's: it
	// is no CA, so nothing it issues chains.
	issuerKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	signerLeaf := signing.Leaf(t, "a signer", &issuerKey.PublicKey, testutil.LeafOptions{})
	forged := (&testutil.CA{Cert: signerLeaf, Key: issuerKey}).Leaf(t, "forged", pub, testutil.LeafOptions{})
	tests := []struct {
		name          string
		leaf          *x509.Certificate
		intermediates []*x509.Certificate
		at            time.Time
		wantErr       error
	}{
		{"valid", signing.Leaf(t, "mirror-signing", pub, testutil.LeafOptions{}), []*x509.Certificate{signing.Cert}, now, nil},
		{"no EKU means any", signing.Leaf(t, "mirror-signing", pub, testutil.LeafOptions{ExtKeyUsage: []x509.ExtKeyUsage{}}), []*x509.Certificate{signing.Cert}, now, nil},
		{"expired", signing.Leaf(t, "old", pub, testutil.LeafOptions{NotBefore: now.Add(-48 * time.Hour), NotAfter: now.Add(-time.Hour)}), []*x509.Certificate{signing.Cert}, now, errdef.ErrSignature},
		{"not yet valid", signing.Leaf(t, "future", pub, testutil.LeafOptions{NotBefore: now.Add(time.Hour)}), []*x509.Certificate{signing.Cert}, now, errdef.ErrSignature},
		{"valid, checked after expiry", signing.Leaf(t, "mirror-signing", pub, testutil.LeafOptions{}), []*x509.Certificate{signing.Cert}, now.Add(48 * time.Hour), errdef.ErrSignature},
		{"no digitalSignature", signing.Leaf(t, "enc", pub, testutil.LeafOptions{KeyUsage: x509.KeyUsageKeyEncipherment}), []*x509.Certificate{signing.Cert}, now, errdef.ErrSignature},
		{"no key usage", signing.Leaf(t, "bare", pub, testutil.LeafOptions{NoKeyUsage: true}), []*x509.Certificate{signing.Cert}, now, errdef.ErrSignature},
		{"TLS server only", signing.Leaf(t, "tls", pub, testutil.LeafOptions{ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}), []*x509.Certificate{signing.Cert}, now, errdef.ErrSignature},
		{"foreign chain", foreign.Leaf(t, "theirs", pub, testutil.LeafOptions{}), []*x509.Certificate{foreign.Cert}, now, errdef.ErrSignature},
		{"intermediate missing", signing.Leaf(t, "mirror-signing", pub, testutil.LeafOptions{}), nil, now, errdef.ErrSignature},
		{"CA as leaf", signing.Cert, nil, now, errdef.ErrSignature},
		{"issued by a leaf", forged, []*x509.Certificate{signing.Cert, signerLeaf}, now, errdef.ErrSignature},
		{"P-384 leaf", signing.Leaf(t, "p384", &p384.PublicKey, testutil.LeafOptions{}), []*x509.Certificate{signing.Cert}, now, errdef.ErrSignature},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := keys.VerifyChain(tt.leaf, tt.intermediates, roots, tt.at)
			if !errors.Is(err, tt.wantErr) || (tt.wantErr == nil) != (err == nil) {
				t.Fatalf("err = %v, want %v", err, tt.wantErr)
			}
		})
	}
}

func TestLoadRootsRefusesLeaf(t *testing.T) {
	root := testutil.NewRootCA(t, "root")
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	leaf := root.Leaf(t, "leaf", &key.PublicKey, testutil.LeafOptions{})
	dir := t.TempDir()
	if _, err := keys.LoadRoots([]string{testutil.WritePEM(t, dir, "root.pem", root.Cert)}); err != nil {
		t.Fatal(err)
	}
	if _, err := keys.LoadRoots([]string{testutil.WritePEM(t, dir, "leaf.pem", leaf)}); !errors.Is(err, errdef.ErrUsage) {
		t.Fatalf("a leaf as trust root: %v", err)
	}
	pubDER, _ := x509.MarshalPKIXPublicKey(&key.PublicKey)
	pubFile := filepath.Join(dir, "cosign.pub")
	os.WriteFile(pubFile, pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: pubDER}), 0o644)
	if _, err := keys.LoadRoots([]string{pubFile}); !errors.Is(err, errdef.ErrUsage) || !strings.Contains(err.Error(), "where a CERTIFICATE is expected") {
		t.Fatalf("a public key as trust root: %v", err)
	}
	if _, err := keys.LoadRoots([]string{dir + "/missing.pem"}); !errors.Is(err, errdef.ErrNotFound) {
		t.Fatalf("missing root: %v", err)
	}
}

// A self-signed signing certificate (openssl req -x509 with CA:FALSE) is
// refused at signing: verify --trust-root takes only CA certificates as
// roots, and nothing but the leaf itself issued it, so every verify
// --trust-root would refuse what it signs. It was its own anchor, and
// passed.
func TestCheckSigningCertificateRefusesSelfSigned(t *testing.T) {
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	now := time.Now()
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "mirror-signing"},
		NotBefore: now.Add(-time.Hour), NotAfter: now.Add(24 * time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageCodeSigning},
		BasicConstraintsValid: true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	self, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	// What the far side would do with it: no root takes it.
	if _, err := keys.LoadRoots([]string{testutil.WritePEM(t, t.TempDir(), "self.pem", self)}); !errors.Is(err, errdef.ErrUsage) {
		t.Fatalf("a self-signed leaf as trust root: %v", err)
	}
	for _, chain := range [][]*x509.Certificate{nil, {testutil.NewRootCA(t, "root").Cert}} {
		err := keys.CheckSigningCertificate(self, chain, now)
		if !errors.Is(err, errdef.ErrUsage) || !strings.Contains(err.Error(), "self-signed") {
			t.Fatalf("self-signed leaf, chain of %d: err = %v, want ErrUsage saying it is self-signed", len(chain), err)
		}
	}
	// A leaf a root issued, given without its chain, still passes: the
	// root is the far side's.
	root := testutil.NewRootCA(t, "root")
	if err := keys.CheckSigningCertificate(root.Leaf(t, "mirror-signing", &key.PublicKey, testutil.LeafOptions{}), nil, now); err != nil {
		t.Fatal(err)
	}
}

// A chain whose intermediate expired (its leaf still valid) names the
// intermediate: it named the leaf as "expired or not yet valid", with the
// intermediate's dates, and sent the operator to a certificate whose own
// dates were good.
func TestVerifyChainNamesExpiredIntermediate(t *testing.T) {
	root := testutil.NewRootCA(t, "StellaOps Root CA")
	signing := root.Intermediate(t, "StellaOps Signing CA")
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	at := time.Now().Add(400 * 24 * time.Hour) // past the CAs' year
	leaf := signing.Leaf(t, "mirror-signing", &key.PublicKey, testutil.LeafOptions{NotAfter: at.Add(365 * 24 * time.Hour)})
	roots := []*x509.Certificate{root.Cert}
	err := keys.VerifyChain(leaf, []*x509.Certificate{signing.Cert}, roots, at)
	if !errors.Is(err, errdef.ErrSignature) || !strings.Contains(err.Error(), `"CN=StellaOps Signing CA" of its chain: expired or not yet valid`) {
		t.Fatalf("err = %v, want ErrSignature naming the expired intermediate", err)
	}
	err = keys.CheckSigningCertificate(leaf, []*x509.Certificate{signing.Cert, root.Cert}, at)
	if !errors.Is(err, errdef.ErrUsage) || !strings.Contains(err.Error(), `"CN=StellaOps Signing CA" of its chain: expired or not yet valid`) {
		t.Fatalf("sign: err = %v, want ErrUsage naming the expired intermediate", err)
	}
	// The leaf's own expiry still names the leaf alone.
	old := signing.Leaf(t, "old", &key.PublicKey, testutil.LeafOptions{NotBefore: time.Now().Add(-48 * time.Hour), NotAfter: time.Now().Add(-time.Hour)})
	err = keys.VerifyChain(old, []*x509.Certificate{signing.Cert}, roots, time.Now())
	if err == nil || !strings.Contains(err.Error(), `certificate "CN=old": expired or not yet valid`) {
		t.Fatalf("expired leaf: %v", err)
	}
}

// A leaf allowed to sign code, under an intermediate that restricts
// extended key usage to TLS, is refused saying the chain restricts it: it
// said the leaf is "not valid for code signing", of a leaf whose own
// extended key usage is codeSigning.
func TestVerifyChainNamesRestrictingChain(t *testing.T) {
	root := testutil.NewRootCA(t, "StellaOps Root CA")
	caKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	now := time.Now()
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: "TLS CA"},
		NotBefore: now.Add(-time.Hour), NotAfter: now.Add(24 * time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, root.Cert, &caKey.PublicKey, root.Key)
	if err != nil {
		t.Fatal(err)
	}
	tlsCA, _ := x509.ParseCertificate(der)
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	leaf := (&testutil.CA{Cert: tlsCA, Key: caKey}).Leaf(t, "mirror-signing", &key.PublicKey, testutil.LeafOptions{})
	roots := []*x509.Certificate{root.Cert}
	err = keys.VerifyChain(leaf, []*x509.Certificate{tlsCA}, roots, now)
	if !errors.Is(err, errdef.ErrSignature) || !strings.Contains(err.Error(), "a certificate of its chain restricts extended key usage") {
		t.Fatalf("err = %v, want ErrSignature saying the chain restricts it", err)
	}
	// A leaf of its own TLS-only usage is still told so.
	tls := root.Leaf(t, "tls", &key.PublicKey, testutil.LeafOptions{ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}})
	if err := keys.VerifyChain(tls, nil, roots, now); err == nil || !strings.Contains(err.Error(), `certificate "CN=tls": not valid for code signing (extended key usage)`) {
		t.Fatalf("TLS leaf: %v", err)
	}
}

// A chain anchored at a self-signed certificate that is no CA (basic
// constraints missing, or CA false) is refused: --trust-root takes only CA
// certificates (LoadRoots), so no far side can trust what it issued. sign
// accepted it, anchoring the chain there, and every verify --trust-root
// refused the bundles it signed.
func TestCheckSigningCertificateRefusesNonCARoot(t *testing.T) {
	now := time.Now()
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	for _, bc := range []struct {
		name  string
		valid bool
		v1    bool
	}{{"no basic constraints", false, false}, {"CA false", true, false}, {"version 1, no extensions", false, true}} {
		t.Run(bc.name, func(t *testing.T) {
			rootKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
			tmpl := &x509.Certificate{
				SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "Not A CA"},
				NotBefore: now.Add(-time.Hour), NotAfter: now.Add(24 * time.Hour),
				KeyUsage: x509.KeyUsageCertSign, BasicConstraintsValid: bc.valid,
			}
			der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &rootKey.PublicKey, rootKey)
			if bc.v1 {
				der, err = selfSignedV1(rootKey, "Not A CA", now)
			}
			if err != nil {
				t.Fatal(err)
			}
			root, err := x509.ParseCertificate(der)
			if err != nil {
				t.Fatal(err)
			}
			// What the far side would do with it: no root takes it.
			if _, err := keys.LoadRoots([]string{testutil.WritePEM(t, t.TempDir(), "root.pem", root)}); !errors.Is(err, errdef.ErrUsage) {
				t.Fatalf("a non-CA root as trust root: %v", err)
			}
			leaf := (&testutil.CA{Cert: root, Key: rootKey}).Leaf(t, "mirror-signing", &key.PublicKey, testutil.LeafOptions{})
			err = keys.CheckSigningCertificate(leaf, []*x509.Certificate{root}, now)
			if !errors.Is(err, errdef.ErrUsage) || !strings.Contains(err.Error(), `"CN=Not A CA"`) || !strings.Contains(err.Error(), "not a CA") {
				t.Fatalf("err = %v, want ErrUsage naming the root that is not a CA", err)
			}
		})
	}
}

// selfSignedV1 makes a self-signed X.509 version 1 certificate (no
// extensions, so no basic constraints), which x509.CreateCertificate
// cannot: Go lets such a certificate issue others.
func selfSignedV1(key *ecdsa.PrivateKey, name string, now time.Time) ([]byte, error) {
	rdn, err := asn1.Marshal(pkix.Name{CommonName: name}.ToRDNSequence())
	if err != nil {
		return nil, err
	}
	return certificateV1(&key.PublicKey, name, rdn, key, now)
}

// issuedV1 makes an X.509 version 1 certificate of key that issuer
// signed: as an intermediate, Go refuses it as not authorized to sign.
func issuedV1(key *ecdsa.PrivateKey, issuer *testutil.CA, name string, now time.Time) (*x509.Certificate, error) {
	der, err := certificateV1(&key.PublicKey, name, issuer.Cert.RawSubject, issuer.Key, now)
	if err != nil {
		return nil, err
	}
	return x509.ParseCertificate(der)
}

func certificateV1(pub *ecdsa.PublicKey, name string, issuerRDN []byte, signer *ecdsa.PrivateKey, now time.Time) ([]byte, error) {
	rdn, err := asn1.Marshal(pkix.Name{CommonName: name}.ToRDNSequence())
	if err != nil {
		return nil, err
	}
	spki, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		return nil, err
	}
	alg := pkix.AlgorithmIdentifier{Algorithm: asn1.ObjectIdentifier{1, 2, 840, 10045, 4, 3, 2}}
	tbs, err := asn1.Marshal(struct {
		Serial   *big.Int
		Alg      pkix.AlgorithmIdentifier
		Issuer   asn1.RawValue
		Validity struct{ NotBefore, NotAfter time.Time }
		Subject  asn1.RawValue
		SPKI     asn1.RawValue
	}{big.NewInt(7), alg, asn1.RawValue{FullBytes: issuerRDN}, struct{ NotBefore, NotAfter time.Time }{now.Add(-time.Hour).UTC(), now.Add(24 * time.Hour).UTC()},
		asn1.RawValue{FullBytes: rdn}, asn1.RawValue{FullBytes: spki}})
	if err != nil {
		return nil, err
	}
	sum := sha256.Sum256(tbs)
	sig, err := ecdsa.SignASN1(rand.Reader, signer, sum[:])
	if err != nil {
		return nil, err
	}
	return asn1.Marshal(struct {
		TBS asn1.RawValue
		Alg pkix.AlgorithmIdentifier
		Sig asn1.BitString
	}{asn1.RawValue{FullBytes: tbs}, alg, asn1.BitString{Bytes: sig, BitLength: 8 * len(sig)}})
}

// A --certificate-chain whose issuer of the leaf is no CA (a signer's own
// leaf given as the chain, with or without the root) was refused as "does
// not chain to the root of the chain given with it (an intermediate
// missing?)": no intermediate is missing, the one given may issue no
// certificate. The certificate that is no CA is named; verify --trust-root
// names it likewise.
func TestCheckSigningCertificateNamesIssuerNotCA(t *testing.T) {
	now := time.Now()
	root := testutil.NewRootCA(t, "Root CA")
	signing := root.Intermediate(t, "Signing CA")
	issuerKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	notCA := signing.Leaf(t, "Not A CA", &issuerKey.PublicKey, testutil.LeafOptions{})
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	leaf := (&testutil.CA{Cert: notCA, Key: issuerKey}).Leaf(t, "mirror-signing", &key.PublicKey, testutil.LeafOptions{})
	for _, tc := range []struct {
		name  string
		chain []*x509.Certificate
	}{{"no root", []*x509.Certificate{notCA}}, {"no root, with the signing CA", []*x509.Certificate{notCA, signing.Cert}}, {"with the root", []*x509.Certificate{notCA, signing.Cert, root.Cert}}} {
		t.Run(tc.name, func(t *testing.T) {
			err := keys.CheckSigningCertificate(leaf, tc.chain, now)
			if !errors.Is(err, errdef.ErrUsage) || !strings.Contains(err.Error(), `"CN=Not A CA"`) || !strings.Contains(err.Error(), "not a CA") || strings.Contains(err.Error(), "does not chain") {
				t.Fatalf("err = %v, want ErrUsage naming the issuer that is not a CA", err)
			}
		})
	}
	roots := []*x509.Certificate{root.Cert}
	err := keys.VerifyChain(leaf, []*x509.Certificate{notCA, signing.Cert}, roots, now)
	if !errors.Is(err, errdef.ErrSignature) || !strings.Contains(err.Error(), `"CN=Not A CA"`) || !strings.Contains(err.Error(), "not a CA") {
		t.Fatalf("verify: err = %v, want ErrSignature naming the issuer that is not a CA", err)
	}
}

// A chain broken by a certificate other than the leaf, an intermediate of
// version 1 (no basic constraints, so no CA) or a CA whose path length
// constraint the chain exceeds, was refused in x509's words after the
// leaf's name: `certificate "CN=mirror-signing": x509: certificate is not
// authorized to sign other certificates`, of a leaf that signs no
// certificate. The certificate at fault is named, and what it breaks.
func TestVerifyChainNamesTheCertificateAtFault(t *testing.T) {
	now := time.Now()
	root := testutil.NewRootCA(t, "Root CA")
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)

	v1Key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	v1, err := issuedV1(v1Key, root, "V1 Signing CA", now)
	if err != nil {
		t.Fatal(err)
	}
	v1Leaf := (&testutil.CA{Cert: v1, Key: v1Key}).Leaf(t, "mirror-signing", &key.PublicKey, testutil.LeafOptions{})

	pl0Key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(3), Subject: pkix.Name{CommonName: "No Intermediates CA"},
		NotBefore: now.Add(-time.Hour), NotAfter: now.Add(24 * time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign, MaxPathLenZero: true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, root.Cert, &pl0Key.PublicKey, root.Key)
	if err != nil {
		t.Fatal(err)
	}
	pl0, _ := x509.ParseCertificate(der)
	signing := (&testutil.CA{Cert: pl0, Key: pl0Key}).Intermediate(t, "Signing CA")
	deepLeaf := signing.Leaf(t, "mirror-signing", &key.PublicKey, testutil.LeafOptions{})

	roots := []*x509.Certificate{root.Cert}
	for _, tc := range []struct {
		name  string
		leaf  *x509.Certificate
		chain []*x509.Certificate
		want  []string
	}{
		{"version 1 intermediate", v1Leaf, []*x509.Certificate{v1}, []string{`"CN=V1 Signing CA"`, "not a CA"}},
		{"path length exceeded", deepLeaf, []*x509.Certificate{signing.Cert, pl0}, []string{`"CN=No Intermediates CA"`, "path length"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			errs := map[string]error{
				"verify": keys.VerifyChain(tc.leaf, tc.chain, roots, now),
				"sign":   keys.CheckSigningCertificate(tc.leaf, append(tc.chain, root.Cert), now),
			}
			for what, err := range errs {
				if err == nil || strings.Contains(err.Error(), "x509:") {
					t.Fatalf("%s: err = %v, want the certificate at fault named, not x509's words after the leaf's name", what, err)
				}
				for _, w := range tc.want {
					if !strings.Contains(err.Error(), w) {
						t.Fatalf("%s: err = %v, want it to say %s", what, err, w)
					}
				}
			}
		})
	}
}

// A --certificate-chain of a version 1 intermediate alone (its root not
// given) was accepted by sign: anchored at that intermediate, x509 lets a
// version 1 certificate issue. On the far side it is no root (LoadRoots
// takes only CA certificates) and, as an intermediate, not authorized to
// sign, so verify --trust-root refused every bundle signed. It is refused
// at sign, naming it, as one of version 3 that is no CA is.
func TestCheckSigningCertificateRefusesV1Intermediate(t *testing.T) {
	now := time.Now()
	root := testutil.NewRootCA(t, "Root CA")
	v1Key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	v1, err := issuedV1(v1Key, root, "V1 Signing CA", now)
	if err != nil {
		t.Fatal(err)
	}
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	leaf := (&testutil.CA{Cert: v1, Key: v1Key}).Leaf(t, "mirror-signing", &key.PublicKey, testutil.LeafOptions{})
	roots := []*x509.Certificate{root.Cert}
	if err := keys.VerifyChain(leaf, []*x509.Certificate{v1}, roots, now); !errors.Is(err, errdef.ErrSignature) {
		t.Fatalf("verify: err = %v, want ErrSignature: the far side refuses it", err)
	}
	err = keys.CheckSigningCertificate(leaf, []*x509.Certificate{v1}, now)
	if !errors.Is(err, errdef.ErrUsage) || !strings.Contains(err.Error(), `"CN=V1 Signing CA"`) || !strings.Contains(err.Error(), "not a CA") {
		t.Fatalf("sign: err = %v, want ErrUsage naming the version 1 intermediate", err)
	}
}

// A chain the bundle carries (hostile, up to 64 certificates) that fails as
// of an unknown authority was searched for an issuer that is no CA with a
// signature check of every certificate at each step, up to 64 steps: a
// certificate given 62 times and a cycle of two CAs issuing each other
// made it some 4,000 checks per leaf (46 s of CPU with P-521 keys, for one
// of up to 64 leaves), where x509 itself stops at 100. The search is
// bounded; the chain is refused all the same.
func TestVerifyChainIssuerSearchBounded(t *testing.T) {
	now := time.Now()
	subject := pkix.Name{CommonName: "Looping CA"}
	ca := func() *x509.Certificate {
		return &x509.Certificate{Subject: subject, NotBefore: now.Add(-time.Hour), NotAfter: now.Add(time.Hour),
			IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign, SerialNumber: big.NewInt(1)}
	}
	create := func(tmpl, parent *x509.Certificate, pub any, priv *ecdsa.PrivateKey) *x509.Certificate {
		der, err := x509.CreateCertificate(rand.Reader, tmpl, parent, pub, priv)
		if err != nil {
			t.Fatal(err)
		}
		c, err := x509.ParseCertificate(der)
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	kx, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	ky, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	kd, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	x := create(ca(), ca(), &kx.PublicKey, ky) // X issued by Y's key,
	y := create(ca(), ca(), &ky.PublicKey, kx) // and Y by X's.
	decoy := create(ca(), ca(), &kd.PublicKey, kd)
	var chain []*x509.Certificate
	for range 62 {
		chain = append(chain, decoy)
	}
	chain = append(chain, x, y)
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	leaf := (&testutil.CA{Cert: x, Key: kx}).Leaf(t, "mirror-signing", &key.PublicKey, testutil.LeafOptions{})
	roots := []*x509.Certificate{testutil.NewRootCA(t, "Root CA").Cert}

	checks := keys.CountIssuerChecks(t)
	err := keys.VerifyChain(leaf, chain, roots, now)
	if !errors.Is(err, errdef.ErrSignature) {
		t.Fatalf("err = %v, want ErrSignature", err)
	}
	if *checks > 100 {
		t.Fatalf("%d signature checks in search of an issuer that is no CA, want at most 100 (x509's own bound)", *checks)
	}
}

// A --certificate-chain holding the signing certificate itself (the
// certificate file given again, of a leaf its root issued directly) was
// refused at sign: its last certificate was taken for the leaf's issuer,
// `issued through "CN=mirror-signing", which is not a CA`, of the leaf
// itself, though verify --trust-root of what it signs passes (x509 passes
// over the leaf in the chain). The leaf in its chain issues nothing.
func TestCheckSigningCertificateChainHoldingTheLeaf(t *testing.T) {
	now := time.Now()
	root := testutil.NewRootCA(t, "Root CA")
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	leaf := root.Leaf(t, "mirror-signing", &key.PublicKey, testutil.LeafOptions{})
	roots := []*x509.Certificate{root.Cert}
	for _, chain := range [][]*x509.Certificate{{leaf}, {leaf, root.Cert}} {
		if err := keys.VerifyChain(leaf, chain, roots, now); err != nil {
			t.Fatalf("verify, chain of %d: %v", len(chain), err)
		}
		if err := keys.CheckSigningCertificate(leaf, chain, now); err != nil {
			t.Fatalf("sign, chain of %d: %v; want it signed, as verify --trust-root takes it", len(chain), err)
		}
	}
}

// An RSA key shorter than 2048 bits in a chain (a root CA's, an
// intermediate's) was trusted: x509 refuses only those under 1024 bits
// (Go 1.24), and a 1024-bit key is within reach of factoring by a
// well-funded party, who could then issue signing certificates at will.
// NIST (SP 800-131A) disallows RSA under 2048 bits for signatures, and
// sigstore's own key validation takes 2048 bits and more. A root so is
// refused as usage when --trust-root is read, an intermediate so as a
// chain that does not verify, and sign --certificate-chain through one
// before anything is signed.
func TestChainRefusesShortRSAKeys(t *testing.T) {
	now := time.Now()
	newCA := func(name string, bits int, parent *x509.Certificate, parentKey any) (*x509.Certificate, *rsa.PrivateKey) {
		k, err := rsa.GenerateKey(rand.Reader, bits)
		if err != nil {
			t.Fatal(err)
		}
		tmpl := &x509.Certificate{Subject: pkix.Name{CommonName: name}, NotBefore: now.Add(-time.Hour), NotAfter: now.Add(time.Hour),
			IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign, SerialNumber: big.NewInt(int64(bits))}
		if parent == nil {
			parent, parentKey = tmpl, k
		}
		der, err := x509.CreateCertificate(rand.Reader, tmpl, parent, &k.PublicKey, parentKey)
		if err != nil {
			t.Fatal(err)
		}
		c, err := x509.ParseCertificate(der)
		if err != nil {
			t.Fatal(err)
		}
		return c, k
	}
	leafUnder := func(ca *x509.Certificate, caKey any) *x509.Certificate {
		key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		tmpl := &x509.Certificate{Subject: pkix.Name{CommonName: "mirror-signing"}, NotBefore: now.Add(-time.Hour), NotAfter: now.Add(time.Hour),
			KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageCodeSigning}, SerialNumber: big.NewInt(7)}
		der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, &key.PublicKey, caKey)
		if err != nil {
			t.Fatal(err)
		}
		c, _ := x509.ParseCertificate(der)
		return c
	}
	const want = "RSA key of 1024 bits"

	weakRoot, weakRootKey := newCA("Weak Root", 1024, nil, nil)
	_, err := keys.LoadRoots([]string{testutil.WritePEM(t, t.TempDir(), "root.pem", weakRoot)})
	if !errors.Is(err, errdef.ErrUsage) || !strings.Contains(err.Error(), want) {
		t.Fatalf("root of RSA-1024: %v, want a usage error naming its key", err)
	}
	leaf := leafUnder(weakRoot, weakRootKey)
	if err := keys.CheckSigningCertificate(leaf, []*x509.Certificate{weakRoot}, now); !errors.Is(err, errdef.ErrUsage) || !strings.Contains(err.Error(), want) {
		t.Fatalf("sign through a root of RSA-1024: %v, want a usage error naming its key", err)
	}

	root, rootKey := newCA("Root", 2048, nil, nil)
	if _, err := keys.LoadRoots([]string{testutil.WritePEM(t, t.TempDir(), "root.pem", root)}); err != nil {
		t.Fatalf("root of RSA-2048: %v", err)
	}
	weak, weakKey := newCA("Weak Signing CA", 1024, root, rootKey)
	leaf = leafUnder(weak, weakKey)
	err = keys.VerifyChain(leaf, []*x509.Certificate{weak}, []*x509.Certificate{root}, now)
	if !errors.Is(err, errdef.ErrSignature) || !strings.Contains(err.Error(), `"CN=Weak Signing CA"`) || !strings.Contains(err.Error(), want) {
		t.Fatalf("verify through an intermediate of RSA-1024: %v, want a signature failure naming it and its key", err)
	}
	if err := keys.CheckSigningCertificate(leaf, []*x509.Certificate{weak, root}, now); !errors.Is(err, errdef.ErrUsage) || !strings.Contains(err.Error(), want) {
		t.Fatalf("sign through an intermediate of RSA-1024: %v, want a usage error naming its key", err)
	}
	strong, strongKey := newCA("Signing CA", 2048, root, rootKey)
	if err := keys.VerifyChain(leafUnder(strong, strongKey), []*x509.Certificate{strong}, []*x509.Certificate{root}, now); err != nil {
		t.Fatalf("verify through an intermediate of RSA-2048: %v", err)
	}
}
