package mirror_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/stellaops/mirror/internal/testutil"
	"github.com/stellaops/mirror/pkg/errdef"
	"github.com/stellaops/mirror/pkg/mirror"
)

// TestTrustRootThresholdCountsSigners: with --trust-root, two-person
// approval counts the signers the certificates name, not their keys. One
// person holding two certified keys (an old and a new one, while a key is
// rotated) signing twice met --threshold 2 alone; a second person's
// signature meets it.
func TestTrustRootThresholdCountsSigners(t *testing.T) {
	ca := testutil.NewRootCA(t, "Root")
	signingCA := ca.Intermediate(t, "Signing CA")
	pki := t.TempDir()
	rootPEM := testutil.WritePEM(t, pki, "root.pem", ca.Cert)
	chainPEM := testutil.WritePEM(t, pki, "chain.pem", signingCA.Cert)
	signWith := func(dir, name, subject string) {
		priv, _ := testKeys(t, name)
		leaf := testutil.WritePEM(t, pki, name+".pem", signingCA.Leaf(t, subject, signerPub(t, priv), testutil.LeafOptions{}))
		sign(t, dir, priv, func(o *mirror.SignOptions) { o.Certificate, o.CertificateChain = leaf, chainPEM })
	}
	trust := mirror.TrustOptions{TrustRoots: []string{rootPEM}, Threshold: 2}

	alone := newBundle(t)
	signWith(alone, "alice-old", "alice")
	signWith(alone, "alice-new", "alice")
	_, err := verify(alone, trust)
	if !errors.Is(err, errdef.ErrSignature) || !strings.Contains(err.Error(), `2 keys certified to "CN=alice"`) {
		t.Fatalf("two keys of one subject, threshold 2: %v, want a signature failure naming CN=alice", err)
	}
	if _, err := verify(alone, mirror.TrustOptions{TrustRoots: []string{rootPEM}}); err != nil {
		t.Fatalf("two keys of one subject, threshold 1: %v", err)
	}

	two := newBundle(t)
	signWith(two, "alice-old", "alice")
	signWith(two, "bob", "bob")
	res, err := verify(two, trust)
	if err != nil {
		t.Fatalf("alice and bob, threshold 2: %v", err)
	}
	if len(res.Signature.Signers) != 2 {
		t.Fatalf("signers %+v, want alice's and bob's", res.Signature.Signers)
	}
}

// TestTrustRootThresholdSubjectlessCertificates: certificates whose subject
// is empty, their holder named only in the subject alternative name (an
// email address, as a CA issuing to people's mail addresses, Fulcio's
// among them, writes them), name different signers: two people's met
// --threshold 2. Every empty subject was taken for one signer, and a
// two-person bundle refused as `2 keys certified to ""` (exit 5).
func TestTrustRootThresholdSubjectlessCertificates(t *testing.T) {
	ca := testutil.NewRootCA(t, "Root")
	signingCA := ca.Intermediate(t, "Signing CA")
	pki := t.TempDir()
	rootPEM := testutil.WritePEM(t, pki, "root.pem", ca.Cert)
	chainPEM := testutil.WritePEM(t, pki, "chain.pem", signingCA.Cert)
	signWith := func(dir, name, email string) {
		priv, _ := testKeys(t, name)
		leaf := testutil.WritePEM(t, pki, name+".pem", signingCA.Leaf(t, "", signerPub(t, priv), testutil.LeafOptions{EmailAddresses: []string{email}}))
		sign(t, dir, priv, func(o *mirror.SignOptions) { o.Certificate, o.CertificateChain = leaf, chainPEM })
	}
	trust := mirror.TrustOptions{TrustRoots: []string{rootPEM}, Threshold: 2}

	two := newBundle(t)
	signWith(two, "alice", "alice@example.com")
	signWith(two, "bob", "bob@example.com")
	res, err := verify(two, trust)
	if err != nil {
		t.Fatalf("alice and bob, certified by email alone, threshold 2: %v", err)
	}
	if len(res.Signature.Signers) != 2 {
		t.Fatalf("signers %+v, want alice's and bob's", res.Signature.Signers)
	}

	alone := newBundle(t)
	signWith(alone, "alice-old", "alice@example.com")
	signWith(alone, "alice-new", "alice@example.com")
	if _, err := verify(alone, trust); !errors.Is(err, errdef.ErrSignature) || !strings.Contains(err.Error(), "alice@example.com") {
		t.Fatalf("two keys certified to one email address, threshold 2: %v, want a signature failure naming it", err)
	}
}
