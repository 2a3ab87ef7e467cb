package dsse

import (
	"context"
	"fmt"
	"sort"
	"strings"

	"github.com/stellaops/mirror/pkg/errdef"
)

// Result says who signed an envelope.
type Result struct {
	// Accepted are the key ids of the distinct trusted keys whose
	// signatures verified, sorted.
	Accepted []string
	// Untrusted counts signatures whose keyid names no trusted key; they are
	// ignored, as another party's approval would be.
	Untrusted int
}

// Verify checks the envelope's signatures against trusted keys and
// requires threshold distinct trusted keys (threshold < 1 means 1):
//   - a signature counts for a key only if its keyid equals the key's id
//     and it verifies over PAE(payloadType, payload): the keyid is bound,
//     so altering it fails as surely as altering the signature;
//   - a signature naming a trusted key that does not verify fails the
//     whole envelope (fail closed: it was tampered with), even if enough
//     others verify;
//   - signatures naming no trusted key are ignored; a key signing twice
//     counts once.
//
// It does not check payloadType; the caller, who knows what it expects,
// does. Failures wrap errdef.ErrSignature.
func (e *Envelope) Verify(ctx context.Context, trusted []Verifier, threshold int) (*Result, error) {
	if threshold < 1 {
		threshold = 1
	}
	byID := map[string][]Verifier{}
	for _, v := range trusted {
		byID[v.KeyID()] = append(byID[v.KeyID()], v)
	}
	if len(byID) == 0 {
		return nil, fmt.Errorf("no trusted key to verify with: %w", errdef.ErrSignature)
	}
	if len(byID) < threshold {
		return nil, fmt.Errorf("threshold %d exceeds the %d trusted keys: %w", threshold, len(byID), errdef.ErrSignature)
	}
	pae := PAE(e.PayloadType, e.Payload)
	accepted := map[string]bool{}
	res := &Result{}
	var untrusted []string
	for i, s := range e.Signatures {
		vs, ok := byID[s.KeyID]
		if !ok {
			res.Untrusted++
			untrusted = append(untrusted, s.KeyID)
			continue
		}
		var err error
		for _, v := range vs {
			if err = v.Verify(ctx, pae, s.Sig); err == nil {
				break
			}
		}
		if err != nil {
			return nil, fmt.Errorf("signatures[%d] by trusted key %s: %w", i, s.KeyID, err)
		}
		accepted[s.KeyID] = true
	}
	for id := range accepted {
		res.Accepted = append(res.Accepted, id)
	}
	sort.Strings(res.Accepted)
	if len(res.Accepted) < threshold {
		by := ""
		if len(untrusted) > 0 {
			// keyids are the envelope's, hostile text: quoted. The ids
			// trusted are ours: beside them, the operator compares the
			// two, a wrong --key against a forgery.
			by = fmt.Sprintf(" (signed by untrusted key %q; %s)", untrusted[0], trustedIDs(byID))
			if len(untrusted) > 1 {
				by = fmt.Sprintf(" (signed by untrusted keys %q and %d more; %s)", untrusted[0], len(untrusted)-1, trustedIDs(byID))
			}
		}
		return res, fmt.Errorf("%d of %d signatures verified with a trusted key%s, %d distinct trusted signers required: %w",
			len(res.Accepted), len(e.Signatures), by, threshold, errdef.ErrSignature)
	}
	return res, nil
}

// trustedIDs names the trusted keys for an error: "trusted: ID" or
// "trusted: ID, ID and N more", sorted.
func trustedIDs(byID map[string][]Verifier) string {
	ids := make([]string, 0, len(byID))
	for id := range byID {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	const shown = 2
	if len(ids) > shown {
		return fmt.Sprintf("trusted: %s and %d more", strings.Join(ids[:shown], ", "), len(ids)-shown)
	}
	return "trusted: " + strings.Join(ids, ", ")
}
