package keys

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"fmt"

	"github.com/sigstore/sigstore/pkg/signature/kms"
	"github.com/sigstore/sigstore/pkg/signature/options"

	"github.com/stellaops/mirror/pkg/errdef"
)

// maxKeysPerRef bounds how many public keys one reference (a PEM file of
// several keys, such as a bundle's public-key.pem) may hold.
const maxKeysPerRef = 64

// Verifier checks signatures made by one ECDSA P-256 public key.
type Verifier struct {
	pub    *ecdsa.PublicKey
	id     string
	source string
}

// NewVerifier makes a Verifier for pub; source says where the key came from
// (a reference or a certificate subject) for messages.
func NewVerifier(pub crypto.PublicKey, source string) (*Verifier, error) {
	ec, err := requireP256(source, pub)
	if err != nil {
		return nil, err
	}
	id, err := KeyID(ec)
	if err != nil {
		return nil, err
	}
	return &Verifier{pub: ec, id: id, source: source}, nil
}

// LoadVerifiers resolves a public key reference: a PEM file of one or more
// public keys (cosign.pub, a bundle's public-key.pem), env://VAR holding
// such PEM or its base64, or a KMS reference (the key's public half is
// fetched once; verification is local).
func LoadVerifiers(ctx context.Context, ref string) ([]*Verifier, error) {
	k, err := classify(ref)
	if err != nil {
		return nil, err
	}
	if k == kindKMS {
		sv, err := kms.Get(ctx, ref, crypto.SHA256)
		if err != nil {
			return nil, kmsError(ctx, ref, err)
		}
		pub, err := sv.PublicKey(options.WithContext(ctx))
		if err != nil {
			return nil, kmsError(ctx, ref, err)
		}
		v, err := NewVerifier(pub, ref)
		if err != nil {
			return nil, err
		}
		return []*Verifier{v}, nil
	}
	data, err := readPEM(ref, k)
	if err != nil {
		return nil, err
	}
	pubs, err := ParsePublicKeys(data)
	if err != nil {
		return nil, fmt.Errorf("key %s: %w", ref, err)
	}
	var out []*Verifier
	for _, p := range pubs {
		v, err := NewVerifier(p, ref)
		if err != nil {
			return nil, err
		}
		out = append(out, v)
	}
	return out, nil
}

// ErrCertificateForKey is ParsePublicKeys' refusal of a certificate where
// a public key is expected. Its hint names --trust-root; a caller whose
// flags are named otherwise (--bundle-trust-root) words its own.
var ErrCertificateForKey = errors.New("a CERTIFICATE where a PUBLIC KEY is expected")

// ParsePublicKeys decodes every "PUBLIC KEY" PEM block of data; a block
// that does not decode is refused, not skipped. A private
// key where a public one is expected is refused, so that it is not read
// further (and never echoed).
func ParsePublicKeys(data []byte) ([]crypto.PublicKey, error) {
	blocks, err := pemBlocks(data, maxKeysPerRef)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", err, errdef.ErrUsage)
	}
	var out []crypto.PublicKey
	for _, block := range blocks {
		if block.Type == "CERTIFICATE" {
			return nil, fmt.Errorf("%w (a root CA's certificate is given with --trust-root): %w", ErrCertificateForKey, errdef.ErrUsage)
		}
		if block.Type != "PUBLIC KEY" {
			return nil, fmt.Errorf("PEM block %q where a PUBLIC KEY is expected: %w", block.Type, errdef.ErrUsage)
		}
		pub, err := x509.ParsePKIXPublicKey(block.Bytes)
		if err != nil {
			return nil, fmt.Errorf("public key: %v: %w", err, errdef.ErrUsage)
		}
		if out = append(out, pub); len(out) > maxKeysPerRef {
			return nil, fmt.Errorf("more than %d public keys: %w", maxKeysPerRef, errdef.ErrUsage)
		}
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("no PEM public key: %w", errdef.ErrUsage)
	}
	return out, nil
}

// KeyID returns "sha256:" and the hex SHA-256 of the public key's DER
// SubjectPublicKeyInfo: the plan's keyid (§2.3).
func (v *Verifier) KeyID() string { return v.id }

// Public returns the verifier's public key.
func (v *Verifier) Public() *ecdsa.PublicKey { return v.pub }

// Source says where the key came from: its reference, or the certificate
// that carried it.
func (v *Verifier) Source() string { return v.source }

// Verify checks an ASN.1 DER ECDSA signature over the SHA-256 of message.
// A failure wraps errdef.ErrSignature.
func (v *Verifier) Verify(_ context.Context, message, sig []byte) error {
	sum := sha256.Sum256(message)
	if !ecdsa.VerifyASN1(v.pub, sum[:], sig) {
		return fmt.Errorf("signature does not verify with key %s: %w", v.id, errdef.ErrSignature)
	}
	return nil
}

// KeyID returns "sha256:" and the hex SHA-256 of pub's DER
// SubjectPublicKeyInfo.
func KeyID(pub crypto.PublicKey) (string, error) {
	der, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		return "", fmt.Errorf("public key: %v: %w", err, errdef.ErrUsage)
	}
	sum := sha256.Sum256(der)
	return "sha256:" + hex.EncodeToString(sum[:]), nil
}

// PublicKeyPEM encodes pub as a "PUBLIC KEY" PEM block, as cosign.pub is.
func PublicKeyPEM(pub crypto.PublicKey) ([]byte, error) {
	der, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		return nil, fmt.Errorf("public key: %v: %w", err, errdef.ErrUsage)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der}), nil
}
