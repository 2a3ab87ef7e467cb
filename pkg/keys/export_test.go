package keys

import (
	"crypto/x509"
	"testing"
)

// CountIssuerChecks counts, until t ends, the signature checks made in
// search of an issuer that is no CA (issuerNotCA).
func CountIssuerChecks(t *testing.T) *int {
	n := new(int)
	orig := checkIssuerSignature
	checkIssuerSignature = func(issuer, c *x509.Certificate) error {
		*n++
		return orig(issuer, c)
	}
	t.Cleanup(func() { checkIssuerSignature = orig })
	return n
}
