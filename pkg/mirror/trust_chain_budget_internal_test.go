package mirror

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/stellaops/mirror/internal/testutil"
	"github.com/stellaops/mirror/pkg/bundle"
	"github.com/stellaops/mirror/pkg/dsse"
	"github.com/stellaops/mirror/pkg/errdef"
	"github.com/stellaops/mirror/pkg/keys"
	"github.com/stellaops/mirror/pkg/layout"
)

// craftedChains is the certificate.pem and certificate-chain.pem of a
// hostile bundle: 64 signing certificates issued by X, a CA whose name
// 62 other CAs share (decoys: one certificate given 62 times, or 62 of
// their own, each key its own), X and Y issuing each other, every CA key
// P-521, the slowest to check, and no path to the trusted root.
func craftedChains(tb testing.TB, distinctDecoys bool) (files map[string][]byte, rootPEM string) {
	tb.Helper()
	now := time.Now()
	subject := pkix.Name{CommonName: "Looping CA"}
	ca := func() *x509.Certificate {
		return &x509.Certificate{Subject: subject, NotBefore: now.Add(-time.Hour), NotAfter: now.Add(time.Hour),
			IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign}
	}
	p521 := func() *ecdsa.PrivateKey {
		k, err := ecdsa.GenerateKey(elliptic.P521(), rand.Reader)
		if err != nil {
			tb.Fatal(err)
		}
		return k
	}
	// A CA certificate of pub signed by priv, its issuer another of the
	// name (x and y issue each other; decoys claim to be theirs).
	create := func(pub *ecdsa.PublicKey, priv *ecdsa.PrivateKey) *x509.Certificate {
		return testutil.NewCert(tb, ca(), nil, pub, priv)
	}
	kx, ky := p521(), p521()
	x := create(&kx.PublicKey, ky)
	y := create(&ky.PublicKey, kx)
	var chain []*x509.Certificate
	kd := p521()
	for range 62 {
		if distinctDecoys {
			kd = p521()
		}
		chain = append(chain, create(&kd.PublicKey, kd))
	}
	chain = append(chain, x, y)
	var leaves []*x509.Certificate
	for i := range 64 {
		key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		leaves = append(leaves, (&testutil.CA{Cert: x, Key: kx}).Leaf(tb, fmt.Sprintf("signer %d", i), &key.PublicKey, testutil.LeafOptions{}))
	}
	rootPEM = testutil.WritePEM(tb, tb.TempDir(), "root.pem", testutil.NewRootCA(tb, "Root CA").Cert)
	return map[string][]byte{
		layout.CertificateFile:      keys.CertificatesPEM(leaves),
		layout.CertificateChainFile: keys.CertificatesPEM(chain),
	}, rootPEM
}

func filesOf(files map[string][]byte) func(string) ([]byte, error) {
	return func(name string) ([]byte, error) {
		if data, ok := files[name]; ok {
			return data, nil
		}
		return noFiles(name)
	}
}

// BenchmarkResolveCraftedChains is what verify --trust-root spends on the
// certificates of a crafted bundle before it looks at a signature.
func BenchmarkResolveCraftedChains(b *testing.B) {
	for _, distinct := range []bool{false, true} {
		b.Run(fmt.Sprintf("distinctDecoys=%v", distinct), func(b *testing.B) {
			files, rootPEM := craftedChains(b, distinct)
			trust := TrustOptions{TrustRoots: []string{rootPEM}}
			b.ResetTimer()
			for range b.N {
				ts, err := trust.resolve(b.Context(), filesOf(files), nil)
				if err == nil && len(ts.verifiers) > 0 {
					b.Fatal("a crafted chain was trusted")
				}
			}
		})
	}
}

// TestTrustRootCraftedChainsBounded: the certificates of a crafted
// bundle (64 leaves under a CA whose name 62 other CAs of P-521 keys
// share) took some 9,000 signature checks, 23 s, of verify --trust-root
// before it looked at the envelope: x509 bounds its checks per leaf
// only, and the search for an issuer that is no CA had a bound of its
// own per leaf (b877423). One budget (keys.MaxChainChecks) now covers
// every leaf, and running out of it refuses the bundle, naming the
// envelope and the files (found by review).
func TestTrustRootCraftedChainsBounded(t *testing.T) {
	files, rootPEM := craftedChains(t, true)
	files[layout.ManifestFile] = []byte("{}\n")
	// An envelope naming as many of the leaves' keys as it may hold
	// signatures, each signature a forgery: the chains are checked
	// before any signature is.
	leaves, err := keys.ParseCertificates(files[layout.CertificateFile])
	if err != nil {
		t.Fatal(err)
	}
	var sigs []string
	for _, leaf := range leaves[:dsse.MaxSignatures] {
		id, _ := keys.KeyID(leaf.PublicKey)
		sigs = append(sigs, `{"keyid":"`+id+`","sig":"AAAA"}`)
	}
	files[layout.EnvelopeFile] = []byte(`{"payload":"e30K","payloadType":"` + bundle.PayloadType + `","signatures":[` + strings.Join(sigs, ",") + `]}`)
	_, err = verifyBundleSignature(t.Context(), filesOf(files), TrustOptions{TrustRoots: []string{rootPEM}})
	if !errors.Is(err, errdef.ErrSignature) || !errors.Is(err, keys.ErrTooManyChecks) {
		t.Fatalf("err = %v, want the budget of signature checks spent, a signature failure", err)
	}
	for _, want := range []string{layout.EnvelopeFile, layout.CertificateFile, layout.CertificateChainFile, fmt.Sprintf("more than %d signature checks", keys.MaxChainChecks)} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("err = %v, want it naming %s", err, want)
		}
	}
}

// ecSigner signs as a dsse.Signer with a bare P-256 key.
type ecSigner struct{ key *ecdsa.PrivateKey }

func (s ecSigner) KeyID() string {
	id, _ := keys.KeyID(&s.key.PublicKey)
	return id
}

func (s ecSigner) Sign(_ context.Context, message []byte) ([]byte, error) {
	sum := sha256.Sum256(message)
	return ecdsa.SignASN1(rand.Reader, s.key, sum[:])
}

// TestTrustRootChecksOnlySigningLeaves: a bundle signed by many people
// over time carries up to 64 leaves in certificate.pem, each signer's
// appended. Every leaf's chain was verified, though only those whose key
// a signature of the envelope names can count: 64 leaves under two
// intermediates ran out of the budget of signature checks
// (keys.MaxChainChecks) and the bundle, signed by one of them, was
// refused. Only the leaves a signature names are checked now.
func TestTrustRootChecksOnlySigningLeaves(t *testing.T) {
	root := testutil.NewRootCA(t, "Root CA")
	policy := root.Intermediate(t, "Policy CA")
	signing := policy.Intermediate(t, "Signing CA")
	var leaves []*x509.Certificate
	var signer *ecdsa.PrivateKey
	for i := range 64 {
		key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		leaves = append(leaves, signing.Leaf(t, fmt.Sprintf("signer %d", i), &key.PublicKey, testutil.LeafOptions{}))
		signer = key
	}
	manifest := []byte("{}\n")
	env := dsse.New(bundle.PayloadType, manifest)
	if err := env.Sign(t.Context(), ecSigner{signer}); err != nil {
		t.Fatal(err)
	}
	envelope, err := env.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	files := map[string][]byte{
		layout.ManifestFile:         manifest,
		layout.EnvelopeFile:         envelope,
		layout.CertificateFile:      keys.CertificatesPEM(leaves),
		layout.CertificateChainFile: keys.CertificatesPEM([]*x509.Certificate{signing.Cert, policy.Cert}),
	}
	rootPEM := testutil.WritePEM(t, t.TempDir(), "root.pem", root.Cert)
	res, err := verifyBundleSignature(t.Context(), filesOf(files), TrustOptions{TrustRoots: []string{rootPEM}})
	if err != nil {
		t.Fatalf("a bundle signed by the last of 64 certified signers: %v", err)
	}
	if len(res.Signers) != 1 || res.Signers[0].Source != "certificate CN=signer 63" {
		t.Fatalf("signers %+v, want signer 63", res.Signers)
	}
}

// crossCert certifies key under name, issued by issuer (self-signed with
// issuer nil): a CA certificate sharing a name with another, as a
// re-keyed or cross-signed CA's do.
func crossCert(tb testing.TB, name string, key *ecdsa.PrivateKey, issuer *testutil.CA) *x509.Certificate {
	tb.Helper()
	tmpl := &x509.Certificate{Subject: pkix.Name{CommonName: name},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign}
	signer := key
	if issuer != nil {
		signer = issuer.Key
	}
	return testutil.NewCert(tb, tmpl, issuer, &key.PublicKey, signer)
}

// signedBundle is the files of a bundle signed by each of n keys, each
// certified by issuer, carrying chain.
func signedBundle(t *testing.T, n int, issuer *testutil.CA, chain []*x509.Certificate) map[string][]byte {
	t.Helper()
	manifest := []byte("{}\n")
	env := dsse.New(bundle.PayloadType, manifest)
	var leaves []*x509.Certificate
	for i := range n {
		key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if err != nil {
			t.Fatal(err)
		}
		leaves = append(leaves, issuer.Leaf(t, fmt.Sprintf("signer %d", i), &key.PublicKey, testutil.LeafOptions{}))
		if err := env.Sign(t.Context(), ecSigner{key}); err != nil {
			t.Fatal(err)
		}
	}
	envelope, err := env.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	return map[string][]byte{
		layout.ManifestFile:         manifest,
		layout.EnvelopeFile:         envelope,
		layout.CertificateFile:      keys.CertificatesPEM(leaves),
		layout.CertificateChainFile: keys.CertificatesPEM(chain),
	}
}

// TestTrustRootLegitimateChainsWithinBudget: bundles of a real PKI, each
// signer's chain verifying with x509 alone, were refused as crafted: a
// path whose certificates share a name (a root re-keyed, its new
// certificate self-signed and cross-signed by the old one) was charged
// x509's whole bound (100) for each signer, so three signers ran out of
// the budget (keys.MaxChainChecks), and a root given in
// certificate-chain.pem was charged twice at every step where x509 checks
// it at most once, so 32 signers under an intermediate also trusted as a
// root did (found by review).
func TestTrustRootLegitimateChainsWithinBudget(t *testing.T) {
	// A root re-keyed: "Root" of a new key, self-signed and cross-signed
	// by "Root" of the old one; the far side trusts the old.
	old := testutil.NewRootCA(t, "Root")
	newKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	newRoot := &testutil.CA{Cert: crossCert(t, "Root", newKey, nil), Key: newKey}
	newByOld := crossCert(t, "Root", newKey, old)
	rekeyed := newRoot.Intermediate(t, "Signing CA")
	// A root re-keyed twice (as AD CS renews a CA with a new key), each
	// key's certificate self-signed and cross-signed by the key before,
	// the chain carrying them all: both certificates of one key on a
	// path made x509 search through either at every step, some 100
	// checks a signer, so 5 signers ran out of the budget (found by
	// review).
	newerKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	newer := &testutil.CA{Cert: crossCert(t, "Root", newerKey, nil), Key: newerKey}
	newerByNew := crossCert(t, "Root", newerKey, newRoot)
	twice := newer.Intermediate(t, "Signing CA")
	// A root, its policy CA and signing CA, the chain given root first,
	// the signing CA trusted as a root too.
	root := testutil.NewRootCA(t, "Root CA")
	policy := root.Intermediate(t, "Policy CA")
	signing := policy.Intermediate(t, "Signing CA")
	for _, tc := range []struct {
		name    string
		signers int
		issuer  *testutil.CA
		chain   []*x509.Certificate
		roots   []*x509.Certificate
	}{
		{"re-keyed root, 3 signers", 3, rekeyed, []*x509.Certificate{rekeyed.Cert, newRoot.Cert, newByOld}, []*x509.Certificate{old.Cert}},
		{"re-keyed root, 32 signers", dsse.MaxSignatures, rekeyed, []*x509.Certificate{rekeyed.Cert, newRoot.Cert, newByOld}, []*x509.Certificate{old.Cert, newRoot.Cert}},
		{"intermediate also a root, 32 signers", dsse.MaxSignatures, signing, []*x509.Certificate{root.Cert, policy.Cert, signing.Cert}, []*x509.Certificate{root.Cert, signing.Cert}},
		// The roots given twice (--trust-root roots.pem --trust-root
		// ca-bundle.pem, the bundle holding them too): each copy was
		// charged at every step where x509, whose pool holds one, checks
		// one, so 32 signers ran out of the budget (found by review).
		{"root re-keyed twice, 32 signers", dsse.MaxSignatures, twice, []*x509.Certificate{twice.Cert, newer.Cert, newerByNew, newRoot.Cert, newByOld}, []*x509.Certificate{old.Cert}},
		{"root re-keyed twice, each trusted, 32 signers", dsse.MaxSignatures, twice, []*x509.Certificate{twice.Cert, newer.Cert, newerByNew, newRoot.Cert, newByOld}, []*x509.Certificate{old.Cert, newRoot.Cert, newer.Cert}},
		{"re-keyed root given twice, 32 signers", dsse.MaxSignatures, rekeyed, []*x509.Certificate{rekeyed.Cert, newRoot.Cert, newByOld}, []*x509.Certificate{old.Cert, newRoot.Cert, old.Cert, newRoot.Cert}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			files := signedBundle(t, tc.signers, tc.issuer, tc.chain)
			rootPEM := testutil.WritePEM(t, t.TempDir(), "root.pem", tc.roots...)
			res, err := verifyBundleSignature(t.Context(), filesOf(files), TrustOptions{TrustRoots: []string{rootPEM}, Threshold: tc.signers})
			if err != nil {
				t.Fatalf("a bundle of %d certified signers: %v", tc.signers, err)
			}
			if len(res.Signers) != tc.signers {
				t.Fatalf("%d signers, want %d", len(res.Signers), tc.signers)
			}
		})
	}
}
