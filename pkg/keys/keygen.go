package keys

import (
	"fmt"

	"github.com/sigstore/cosign/v2/pkg/cosign"
)

// KeyPair is a key pair in cosign's format.
type KeyPair struct {
	// PrivatePEM is the ECDSA P-256 private key, PKCS #8, encrypted with
	// scrypt and secretbox as "ENCRYPTED SIGSTORE PRIVATE KEY" (cosign.key).
	PrivatePEM []byte
	// PublicPEM is the public key as "PUBLIC KEY" (cosign.pub).
	PublicPEM []byte
	// KeyID is the public key's id (see KeyID).
	KeyID string
}

// GenerateKeyPair makes a new ECDSA P-256 key pair with cosign's own code,
// so that cosign reads the private key and stella reads cosign's. The
// password may be empty, as cosign allows; the caller zeroes it.
func GenerateKeyPair(password []byte) (*KeyPair, error) {
	pw := append([]byte(nil), password...)
	kb, err := cosign.GenerateKeyPair(func(bool) ([]byte, error) { return pw, nil })
	clear(pw)
	if err != nil {
		return nil, fmt.Errorf("generating key pair: %w", err)
	}
	pubs, err := ParsePublicKeys(kb.PublicBytes)
	if err != nil {
		return nil, err
	}
	id, err := KeyID(pubs[0])
	if err != nil {
		return nil, err
	}
	return &KeyPair{PrivatePEM: kb.PrivateBytes, PublicPEM: kb.PublicBytes, KeyID: id}, nil
}
