package keys

import (
	"bytes"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"time"

	"github.com/stellaops/mirror/pkg/errdef"
)

// maxCertificates bounds the certificates one PEM file may hold: a few
// signers' leaves and their intermediates.
const maxCertificates = 64

// ParseCertificates decodes every "CERTIFICATE" PEM block of data; any other
// block, one that does not decode, or none at all, is refused.
func ParseCertificates(data []byte) ([]*x509.Certificate, error) {
	blocks, err := pemBlocks(data, maxCertificates)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", err, errdef.ErrMalformed)
	}
	var out []*x509.Certificate
	for _, block := range blocks {
		if block.Type != "CERTIFICATE" {
			return nil, fmt.Errorf("PEM block %q where a CERTIFICATE is expected: %w", block.Type, errdef.ErrMalformed)
		}
		c, err := x509.ParseCertificate(block.Bytes)
		if err != nil {
			return nil, fmt.Errorf("certificate: %v: %w", err, errdef.ErrMalformed)
		}
		if out = append(out, c); len(out) > maxCertificates {
			return nil, fmt.Errorf("more than %d certificates: %w", maxCertificates, errdef.ErrMalformed)
		}
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("no PEM certificate: %w", errdef.ErrMalformed)
	}
	return out, nil
}

// LoadCertificates reads a PEM file of certificates given on the command
// line. A missing file wraps errdef.ErrNotFound, a bad one errdef.ErrUsage.
func LoadCertificates(path string) ([]*x509.Certificate, error) {
	data, err := readPEM(path, kindFile)
	if err != nil {
		return nil, err
	}
	certs, err := ParseCertificates(data)
	if err != nil {
		return nil, fmt.Errorf("%s: %v: %w", path, err, errdef.ErrUsage)
	}
	return certs, nil
}

// LoadRoots reads the trusted root CAs from PEM files.
func LoadRoots(paths []string) ([]*x509.Certificate, error) {
	var roots []*x509.Certificate
	for _, p := range paths {
		certs, err := LoadCertificates(p)
		if err != nil {
			return nil, fmt.Errorf("trust root: %w", err)
		}
		for _, c := range certs {
			if !c.IsCA {
				return nil, fmt.Errorf("trust root %s: %q is not a CA certificate: %w", p, c.Subject, errdef.ErrUsage)
			}
			if err := weakKey(c); err != nil {
				return nil, fmt.Errorf("trust root %s: %q: %v: %w", p, c.Subject, err, errdef.ErrUsage)
			}
			roots = append(roots, c)
		}
	}
	return roots, nil
}

// VerifyChain checks, offline and at time now, that leaf may sign bundles
// on the authority of one of roots, through intermediates:
//   - the chain verifies to a root, every certificate valid at now (no OCSP
//     or CRL: the air gap has neither);
//   - leaf is not a CA and its key usage includes digitalSignature (a leaf
//     without the key usage extension is refused: our hierarchy always
//     sets it);
//   - if any certificate of the chain restricts extended key usage, it
//     allows codeSigning (Go's chain-wide rule; no EKU means any);
//   - the leaf's key is ECDSA P-256, and no certificate above it has an
//     RSA key shorter than 2048 bits (weakKey).
//
// A failure wraps errdef.ErrSignature and says which rule broke.
//
// It is NewChains(roots, intermediates, now).Verify(leaf): a reader of
// many leaves (a bundle's) shares one Chains among them.
func VerifyChain(leaf *x509.Certificate, intermediates, roots []*x509.Certificate, now time.Time) error {
	return NewChains(roots, intermediates, now).Verify(leaf)
}

// CheckSigningCertificate checks, before anything is signed, what
// VerifyChain will check of leaf wherever the bundle is verified: it may
// sign (not a CA, not self-signed, digitalSignature, codeSigning through
// the chain, P-256) and it and the chain given with it are valid at now. The chain is
// anchored at its self-signed certificates (the root, where it is given),
// else at its last one, else at leaf itself: the far side's --trust-root
// is not known here, only that a certificate failing these rules fails
// under any root. A failure wraps errdef.ErrUsage and says which rule
// broke.
func CheckSigningCertificate(leaf *x509.Certificate, chain []*x509.Certificate, now time.Time) error {
	// A self-signed leaf would be its own anchor below; on the far side
	// no root issued it, and --trust-root takes no leaf (LoadRoots).
	if bytes.Equal(leaf.RawSubject, leaf.RawIssuer) && leaf.CheckSignature(leaf.SignatureAlgorithm, leaf.RawTBSCertificate, leaf.Signature) == nil {
		return fmt.Errorf("certificate %q is self-signed, and --trust-root takes only CA certificates: verify --trust-root would refuse every bundle it signs (use a certificate a CA issued, or sign without --certificate and verify with --key): %w", leaf.Subject.String(), errdef.ErrUsage)
	}
	// The leaf given again in its chain (the certificate file given as
	// the chain too) issues nothing: x509 passes over it at verify, and
	// as the chain's last it would be taken for the leaf's issuer below.
	var issuers []*x509.Certificate
	for _, c := range chain {
		if !bytes.Equal(c.Raw, leaf.Raw) {
			issuers = append(issuers, c)
		}
	}
	chain = issuers
	var anchors []*x509.Certificate
	for _, c := range chain {
		if bytes.Equal(c.RawSubject, c.RawIssuer) && c.CheckSignatureFrom(c) == nil {
			anchors = append(anchors, c)
		}
	}
	anchored := len(anchors) > 0
	switch {
	case !anchored && len(chain) > 0:
		anchors = append(anchors, chain[len(chain)-1])
	case !anchored:
		anchors = append(anchors, leaf)
	}
	// A root of the chain that is no CA (basic constraints missing or
	// false) anchors nothing on the far side: --trust-root takes only CA
	// certificates (LoadRoots). Said so, not as a chain that does not
	// reach its root.
	for _, c := range chain {
		if !c.IsCA && bytes.Equal(c.RawSubject, c.RawIssuer) && c.CheckSignature(c.SignatureAlgorithm, c.RawTBSCertificate, c.Signature) == nil {
			return fmt.Errorf("certificate %q of the chain given with %q is self-signed but not a CA (no basic constraints, or CA false), and --trust-root takes only CA certificates: verify --trust-root would refuse every bundle it signs: %w", c.Subject.String(), leaf.Subject.String(), errdef.ErrUsage)
		}
	}
	cs := NewChains(anchors, chain, now)
	cs.unanchored = "does not chain to the root of the chain given with it (an intermediate missing?)"
	if err := cs.check(leaf); err != nil {
		return fmt.Errorf("%v: verify --trust-root would refuse every bundle it signs: %w", err, errdef.ErrUsage)
	}
	// The chain's last certificate, its root not given, anchored it: x509
	// lets one of version 1 (no basic constraints) issue there. On the far
	// side it is no root (LoadRoots) and, as an intermediate, may sign
	// nothing.
	if !anchored && len(chain) > 0 {
		if last := chain[len(chain)-1]; !last.IsCA {
			return fmt.Errorf("certificate %q: issued through %q, which is not a CA (no basic constraints, or CA false) and may issue no certificate: verify --trust-root would refuse every bundle it signs: %w", leaf.Subject.String(), last.Subject.String(), errdef.ErrUsage)
		}
	}
	return nil
}

// allowsCodeSigning reports whether c's own extended key usage allows
// code signing (none restricts nothing).
func allowsCodeSigning(c *x509.Certificate) bool {
	if len(c.ExtKeyUsage) == 0 && len(c.UnknownExtKeyUsage) == 0 {
		return true
	}
	for _, u := range c.ExtKeyUsage {
		if u == x509.ExtKeyUsageCodeSigning || u == x509.ExtKeyUsageAny {
			return true
		}
	}
	return false
}

// minRSABits is the shortest RSA key a certificate of a chain may have.
// x509 refuses only those under 1024 bits; NIST SP 800-131A disallows
// RSA under 2048 bits for signatures, sigstore's key validation takes
// 2048 bits and more, and a 1024-bit key is within reach of factoring by
// a well-funded party, who could then certify signing keys at will.
const minRSABits = 2048

// weakKey refuses an RSA key of c shorter than minRSABits.
func weakKey(c *x509.Certificate) error {
	if k, ok := c.PublicKey.(*rsa.PublicKey); ok && k.N.BitLen() < minRSABits {
		return fmt.Errorf("its RSA key of %d bits is too short to trust (%d bits at least, NIST SP 800-131A)", k.N.BitLen(), minRSABits)
	}
	return nil
}

// CertificatesPEM encodes certs as consecutive "CERTIFICATE" PEM blocks.
func CertificatesPEM(certs []*x509.Certificate) []byte {
	var out []byte
	for _, c := range certs {
		out = append(out, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: c.Raw})...)
	}
	return out
}
