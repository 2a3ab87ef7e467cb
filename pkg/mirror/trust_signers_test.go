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
// signature meets it. A certificate whose subject is empty names its
// holder in its subject alternative name (an email address, as a CA
// issuing to people's mail addresses, Fulcio's among them, writes them):
// every empty subject was taken for one signer, and a two-person bundle
// refused as `2 keys certified to ""` (exit 5). Names differing in case
// only ("CN=Alice" and "CN=alice"; alice@EXAMPLE.com and
// alice@example.com) are one name to X.509 (RFC 5280 7.1: caseIgnoreMatch;
// a mail address's host part) and were counted as two (found by review).
func TestTrustRootThresholdCountsSigners(t *testing.T) {
	ca := testutil.NewRootCA(t, "Root")
	signingCA := ca.Intermediate(t, "Signing CA")
	pki := t.TempDir()
	rootPEM := testutil.WritePEM(t, pki, "root.pem", ca.Cert)
	chainPEM := testutil.WritePEM(t, pki, "chain.pem", signingCA.Cert)
	trust := mirror.TrustOptions{TrustRoots: []string{rootPEM}, Threshold: 2}
	bySubject := func(who string) (string, testutil.LeafOptions) { return who, testutil.LeafOptions{} }
	byEmail := func(who string) (string, testutil.LeafOptions) {
		return "", testutil.LeafOptions{EmailAddresses: []string{who + "@example.com"}}
	}
	for _, tc := range []struct {
		name string
		// certify gives the subject and options of who's certificate.
		certify func(who string) (string, testutil.LeafOptions)
		// renamed is how alice's second certificate names her.
		renamed func(who string) (string, testutil.LeafOptions)
		// named is how the refusal names alice.
		named string
	}{
		{"by subject", bySubject, bySubject, `2 keys certified to "CN=alice"`},
		{"by email alone", byEmail, byEmail, "alice@example.com"},
		{"subject in two cases", bySubject, func(string) (string, testutil.LeafOptions) { return bySubject("Alice") }, "certified to"},
		{"email in two cases", byEmail, func(string) (string, testutil.LeafOptions) {
			return "", testutil.LeafOptions{EmailAddresses: []string{"alice@EXAMPLE.com"}}
		}, "certified to"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			signWith := func(dir, key, who string, certify func(string) (string, testutil.LeafOptions)) {
				priv, _ := testKeys(t, key)
				subject, opts := certify(who)
				leaf := testutil.WritePEM(t, t.TempDir(), key+".pem", signingCA.Leaf(t, subject, signerPub(t, priv), opts))
				sign(t, dir, priv, func(o *mirror.SignOptions) { o.Certificate, o.CertificateChain = leaf, chainPEM })
			}
			alone := newBundle(t)
			signWith(alone, "alice-old", "alice", tc.certify)
			signWith(alone, "alice-new", "alice", tc.renamed)
			_, err := verify(alone, trust)
			if !errors.Is(err, errdef.ErrSignature) || !strings.Contains(err.Error(), tc.named) {
				t.Fatalf("two keys of one signer, threshold 2: %v, want a signature failure naming %s", err, tc.named)
			}
			if _, err := verify(alone, mirror.TrustOptions{TrustRoots: []string{rootPEM}}); err != nil {
				t.Fatalf("two keys of one signer, threshold 1: %v", err)
			}
			two := newBundle(t)
			signWith(two, "alice-old", "alice", tc.certify)
			signWith(two, "bob", "bob", tc.certify)
			res, err := verify(two, trust)
			if err != nil {
				t.Fatalf("alice and bob, threshold 2: %v", err)
			}
			if len(res.Signature.Signers) != 2 {
				t.Fatalf("signers %+v, want alice's and bob's", res.Signature.Signers)
			}
		})
	}
}
