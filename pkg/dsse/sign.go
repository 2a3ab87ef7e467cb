package dsse

import (
	"context"
	"fmt"

	"github.com/stellaops/mirror/pkg/errdef"
)

// Signer makes signatures over a message (the PAE) with one key. pkg/keys's
// Signer implements it, for key files, env:// and KMS keys alike.
type Signer interface {
	// KeyID identifies the key; it is written as the signature's keyid.
	KeyID() string
	// Sign returns the signature over message.
	Sign(ctx context.Context, message []byte) ([]byte, error)
}

// Verifier checks signatures of one trusted key. pkg/keys's Verifier
// implements it.
type Verifier interface {
	// KeyID identifies the key, as signatures name it.
	KeyID() string
	// Verify returns nil if sig is the key's signature over message.
	Verify(ctx context.Context, message, sig []byte) error
}

// Sign signs the envelope with s and adds the signature. A signature
// already made by the same key id is replaced, so signing twice with one
// key never counts twice; signatures of other keys are kept (two-person
// approval: each approver adds theirs).
func (e *Envelope) Sign(ctx context.Context, s Signer) error {
	if e.PayloadType == "" {
		return fmt.Errorf("DSSE envelope: empty payloadType: %w", errdef.ErrUsage)
	}
	id := s.KeyID()
	if id == "" {
		return fmt.Errorf("DSSE envelope: signer has no key id: %w", errdef.ErrUsage)
	}
	sig, err := s.Sign(ctx, PAE(e.PayloadType, e.Payload))
	if err != nil {
		return err
	}
	kept := []Signature{}
	for _, old := range e.Signatures {
		if old.KeyID != id {
			kept = append(kept, old)
		}
	}
	if len(kept) >= MaxSignatures {
		return fmt.Errorf("DSSE envelope: already %d signatures, the limit: %w", len(kept), errdef.ErrUsage)
	}
	e.Signatures = append(kept, Signature{KeyID: id, Sig: sig})
	return nil
}
