package mirror_test

import (
	"errors"
	"testing"

	"github.com/stellaops/mirror/internal/testutil"
	"github.com/stellaops/mirror/pkg/errdef"
	"github.com/stellaops/mirror/pkg/mirror"
)

// TestTrustRootThresholdSignerNamesIgnoreCase: one person's two
// certificates whose names differ in case only ("CN=Alice" and
// "CN=alice"; alice@EXAMPLE.com and alice@example.com), which X.509
// compares as one name (RFC 5280 7.1: caseIgnoreMatch; a mail address's
// and a DNS name's host part), were counted as two signers, and met
// --threshold 2 alone (found by review).
func TestTrustRootThresholdSignerNamesIgnoreCase(t *testing.T) {
	ca := testutil.NewRootCA(t, "Root")
	signingCA := ca.Intermediate(t, "Signing CA")
	pki := t.TempDir()
	rootPEM := testutil.WritePEM(t, pki, "root.pem", ca.Cert)
	chainPEM := testutil.WritePEM(t, pki, "chain.pem", signingCA.Cert)
	trust := mirror.TrustOptions{TrustRoots: []string{rootPEM}, Threshold: 2}
	for _, tc := range []struct {
		name     string
		old, new func() (string, testutil.LeafOptions)
	}{
		{"subject", func() (string, testutil.LeafOptions) { return "Alice", testutil.LeafOptions{} },
			func() (string, testutil.LeafOptions) { return "alice", testutil.LeafOptions{} }},
		{"email", func() (string, testutil.LeafOptions) {
			return "", testutil.LeafOptions{EmailAddresses: []string{"alice@EXAMPLE.com"}}
		}, func() (string, testutil.LeafOptions) {
			return "", testutil.LeafOptions{EmailAddresses: []string{"alice@example.com"}}
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := newBundle(t)
			for key, certify := range map[string]func() (string, testutil.LeafOptions){"alice-old": tc.old, "alice-new": tc.new} {
				priv, _ := testKeys(t, key)
				subject, opts := certify()
				leaf := testutil.WritePEM(t, t.TempDir(), key+".pem", signingCA.Leaf(t, subject, signerPub(t, priv), opts))
				sign(t, dir, priv, func(o *mirror.SignOptions) { o.Certificate, o.CertificateChain = leaf, chainPEM })
			}
			if _, err := verify(dir, trust); !errors.Is(err, errdef.ErrSignature) {
				t.Fatalf("two keys of one signer, named in two cases, threshold 2: %v, want a signature failure", err)
			}
		})
	}
}
