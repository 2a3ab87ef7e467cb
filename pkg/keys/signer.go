package keys

import (
	"bytes"
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/pem"
	"fmt"
	"strings"

	"github.com/sigstore/cosign/v2/pkg/cosign"
	"github.com/sigstore/sigstore/pkg/signature"
	"github.com/sigstore/sigstore/pkg/signature/kms"
	"github.com/sigstore/sigstore/pkg/signature/options"

	"github.com/stellaops/mirror/pkg/errdef"
)

// PassFunc returns the password of an encrypted private key. LoadSigner
// calls it at most once, and only for a key that needs one; the returned
// slice is zeroed after use.
type PassFunc func() ([]byte, error)

// Signer signs with an ECDSA P-256 key from any key reference. Its
// signatures are ASN.1 DER ECDSA over the SHA-256 of the message: what
// cosign sign-blob writes and DSSE verifiers expect.
type Signer struct {
	ref string
	sv  signature.SignerVerifier
	pub *ecdsa.PublicKey
	id  string
}

// LoadSigner resolves a private key reference: a cosign key file
// (ENCRYPTED SIGSTORE PRIVATE KEY or ENCRYPTED COSIGN PRIVATE KEY),
// env://VAR holding such a key as PEM or base64 of PEM, or a KMS reference
// of a scheme built in (hashivault://). pass is asked for the password of an
// encrypted key; it may be nil for a KMS reference.
//
// Errors wrap errdef.ErrNotFound for a missing file or variable and
// errdef.ErrUsage for anything else wrong with the key or password; none
// holds key material or the password.
func LoadSigner(ctx context.Context, ref string, pass PassFunc) (*Signer, error) {
	k, err := classify(ref)
	if err != nil {
		return nil, err
	}
	var sv signature.SignerVerifier
	if k == kindKMS {
		ksv, err := kms.Get(ctx, ref, crypto.SHA256)
		if err != nil {
			return nil, kmsError(ctx, ref, err)
		}
		sv = ksv
	} else {
		data, err := readPEM(ref, k)
		if err != nil {
			return nil, err
		}
		if sv, err = loadPrivatePEM(ref, data, pass); err != nil {
			return nil, err
		}
	}
	pub, err := sv.PublicKey(options.WithContext(ctx))
	if err != nil {
		return nil, kmsError(ctx, ref, err)
	}
	ecpub, err := requireP256(ref, pub)
	if err != nil {
		return nil, err
	}
	id, err := KeyID(ecpub)
	if err != nil {
		return nil, err
	}
	return &Signer{ref: ref, sv: sv, pub: ecpub, id: id}, nil
}

// loadPrivatePEM decrypts a cosign private key with cosign's own code.
// The file holds that one PEM block: encoding/pem (and cosign) would take
// the first of several and pass over the rest, so two files concatenated
// where one key was meant (two signers' keys, a key and its public key)
// signed with whichever came first.
func loadPrivatePEM(ref string, data []byte, pass PassFunc) (signature.SignerVerifier, error) {
	blocks, err := pemBlocks(data, 1)
	if err != nil {
		return nil, fmt.Errorf("key %s: %v: %w", ref, err, errdef.ErrUsage)
	}
	switch {
	case len(blocks) == 0:
		return nil, fmt.Errorf("key %s: not a PEM key: %w", ref, errdef.ErrUsage)
	case len(blocks) > 1:
		more, _ := pemBlocks(data, maxKeysPerRef)
		types := make([]string, len(more))
		for i, b := range more {
			types[i] = b.Type
		}
		return nil, fmt.Errorf("key %s: holds %d PEM blocks (%s), where a private key file holds one key (files concatenated?): %w", ref, len(more), strings.Join(types, ", "), errdef.ErrUsage)
	}
	block := blocks[0]
	switch block.Type {
	case cosign.SigstorePrivateKeyPemType, cosign.CosignPrivateKeyPemType:
	case "PUBLIC KEY":
		return nil, fmt.Errorf("key %s: is a public key; signing needs the private key (cosign.key): %w", ref, errdef.ErrUsage)
	case cosign.ECPrivateKeyPemType, cosign.PrivateKeyPemType, cosign.RSAPrivateKeyPemType:
		return nil, fmt.Errorf("key %s: unencrypted %s refused; convert it with `cosign import-key-pair`: %w", ref, block.Type, errdef.ErrUsage)
	default:
		return nil, fmt.Errorf("key %s: PEM type %q is not a cosign private key: %w", ref, block.Type, errdef.ErrUsage)
	}
	if pass == nil {
		return nil, fmt.Errorf("key %s: is encrypted and no password was given: %w", ref, errdef.ErrUsage)
	}
	pw, err := pass()
	if err != nil {
		return nil, fmt.Errorf("key %s: password: %w", ref, err)
	}
	defer clear(pw)
	sv, err := cosign.LoadPrivateKey(pem.EncodeToMemory(block), pw, nil)
	if err != nil {
		// cosign's error says only "decrypt: encrypted: decryption failed"
		// or how parsing failed; it holds neither key nor password.
		hint := "wrong password?"
		if len(pw) == 0 {
			// CI passes a secret that is not defined as an empty
			// variable, not as none.
			hint = "the password given is empty: is COSIGN_PASSWORD set but empty, as a CI secret that is not defined leaves it?"
		}
		return nil, fmt.Errorf("key %s: cannot decrypt (%s): %v: %w", ref, hint, err, errdef.ErrUsage)
	}
	return sv, nil
}

// requireP256 accepts only ECDSA P-256 public keys, the plan's algorithm.
func requireP256(ref string, pub crypto.PublicKey) (*ecdsa.PublicKey, error) {
	ec, ok := pub.(*ecdsa.PublicKey)
	if !ok {
		return nil, fmt.Errorf("key %s: is %s, not ECDSA; stella signs and verifies with ECDSA P-256 only: %w", ref, keyType(pub), errdef.ErrUsage)
	}
	if ec.Curve.Params().Name != "P-256" {
		return nil, fmt.Errorf("key %s: is ECDSA %s; stella signs and verifies with ECDSA P-256 only: %w", ref, ec.Curve.Params().Name, errdef.ErrUsage)
	}
	return ec, nil
}

func keyType(pub crypto.PublicKey) string {
	switch pub.(type) {
	case *ecdsa.PublicKey:
		return "ECDSA"
	case *rsa.PublicKey:
		return "RSA"
	case ed25519.PublicKey:
		return "Ed25519"
	case nil:
		return "no key"
	}
	return fmt.Sprintf("%T", pub)
}

// KeyID returns the signer's key id: "sha256:" and the hex SHA-256 of its
// public key's DER SubjectPublicKeyInfo.
func (s *Signer) KeyID() string { return s.id }

// Public returns the signer's public key.
func (s *Signer) Public() *ecdsa.PublicKey { return s.pub }

// Ref returns the key reference the signer was loaded from (a path,
// env://NAME or a KMS URI; never key material).
func (s *Signer) Ref() string { return s.ref }

// PublicKeyPEM returns the signer's public key as PEM ("PUBLIC KEY").
func (s *Signer) PublicKeyPEM() ([]byte, error) { return PublicKeyPEM(s.pub) }

// Sign signs message: ECDSA over its SHA-256, ASN.1 DER. The signature is
// checked against the public key before it is returned, so a KMS that
// signed with another key, or a fault, never yields a bad signature.
func (s *Signer) Sign(ctx context.Context, message []byte) ([]byte, error) {
	sig, err := s.sv.SignMessage(bytes.NewReader(message), options.WithContext(ctx))
	if err != nil {
		return nil, kmsError(ctx, s.ref, fmt.Errorf("signing: %v", err))
	}
	sum := sha256.Sum256(message)
	if !ecdsa.VerifyASN1(s.pub, sum[:], sig) {
		return nil, fmt.Errorf("key %s: the signature made does not verify with the key's public key: %w", s.ref, errdef.ErrSignature)
	}
	return sig, nil
}
