package dsse

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"strconv"

	"github.com/stellaops/mirror/pkg/errdef"
)

// Bounds on an envelope read from a bundle, which is hostile input until
// it verifies.
const (
	// MaxEnvelopeSize bounds an envelope's encoded size, as every document
	// of a bundle is bounded (DESIGN.md): with base64's third, a signed
	// manifest.json can be about 3 MiB.
	MaxEnvelopeSize = 4 << 20
	// MaxSignatures bounds the signatures of one envelope: a handful of
	// approvers, not thousands of verifications to burn CPU on.
	MaxSignatures = 32
	// maxKeyID bounds a keyid ("sha256:" and 64 hex digits for ours).
	maxKeyID = 256
	// maxSig bounds one signature (an ASN.1 ECDSA P-256 one is ≤ 72 bytes).
	maxSig = 1024
)

// Envelope is a DSSE envelope. Payload and the signatures are raw bytes;
// JSON carries them as standard base64.
type Envelope struct {
	PayloadType string      `json:"payloadType"`
	Payload     []byte      `json:"payload"`
	Signatures  []Signature `json:"signatures"`
}

// Signature is one signature of an envelope: the key id of the key that
// made it, and the signature over PAE(payloadType, payload).
type Signature struct {
	KeyID string `json:"keyid"`
	Sig   []byte `json:"sig"`
}

// New returns an unsigned envelope for payload.
func New(payloadType string, payload []byte) *Envelope {
	return &Envelope{PayloadType: payloadType, Payload: payload, Signatures: []Signature{}}
}

// PAE is DSSE's pre-authentication encoding:
// "DSSEv1" SP LEN(type) SP type SP LEN(body) SP body, lengths in ASCII
// decimal. Signing it, not the payload, binds the payload type.
func PAE(payloadType string, payload []byte) []byte {
	var b bytes.Buffer
	b.Grow(len(payloadType) + len(payload) + 32)
	b.WriteString("DSSEv1 ")
	b.WriteString(strconv.Itoa(len(payloadType)))
	b.WriteByte(' ')
	b.WriteString(payloadType)
	b.WriteByte(' ')
	b.WriteString(strconv.Itoa(len(payload)))
	b.WriteByte(' ')
	b.Write(payload)
	return b.Bytes()
}

// Marshal encodes the envelope as compact JSON with a trailing newline,
// fields in the order of the plan (§2.3). An envelope over
// MaxEnvelopeSize is refused (errdef.ErrUsage): no reader would take it.
func (e *Envelope) Marshal() ([]byte, error) {
	sigs := e.Signatures
	if sigs == nil {
		sigs = []Signature{}
	}
	out, err := json.Marshal(Envelope{PayloadType: e.PayloadType, Payload: e.Payload, Signatures: sigs})
	if err != nil {
		return nil, err
	}
	if len(out)+1 > MaxEnvelopeSize {
		return nil, fmt.Errorf("DSSE envelope: %d bytes exceeds the %d byte limit (payload too large): %w", len(out)+1, MaxEnvelopeSize, errdef.ErrUsage)
	}
	return append(out, '\n'), nil
}

// wire is the envelope as JSON carries it, decoded strictly.
type wire struct {
	PayloadType *string `json:"payloadType"`
	Payload     *string `json:"payload"`
	Signatures  []struct {
		KeyID *string `json:"keyid"`
		Sig   *string `json:"sig"`
	} `json:"signatures"`
}

// Parse decodes an envelope strictly: at most MaxEnvelopeSize bytes, one
// JSON object with exactly payloadType, payload and signatures (each with
// keyid and sig), no unknown or duplicate field, nothing after it, base64
// that decodes canonically, a non-empty keyid and signature, at most
// MaxSignatures signatures. Anything else wraps errdef.ErrMalformed. It does
// not verify signatures.
func Parse(data []byte) (*Envelope, error) {
	bad := func(format string, args ...any) error {
		return fmt.Errorf("DSSE envelope: "+format+": %w", append(args, errdef.ErrMalformed)...)
	}
	if len(data) > MaxEnvelopeSize {
		return nil, bad("%d bytes exceeds the %d byte limit", len(data), MaxEnvelopeSize)
	}
	if err := checkNoDuplicateKeys(data); err != nil {
		return nil, bad("%v", err)
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	var w wire
	if err := dec.Decode(&w); err != nil {
		return nil, bad("%v", err)
	}
	if _, err := dec.Token(); err == nil {
		return nil, bad("trailing data")
	}
	if w.PayloadType == nil || *w.PayloadType == "" {
		return nil, bad("no payloadType")
	}
	if w.Payload == nil {
		return nil, bad("no payload")
	}
	payload, err := decodeBase64(*w.Payload)
	if err != nil {
		return nil, bad("payload: %v", err)
	}
	if w.Signatures == nil {
		return nil, bad("no signatures field")
	}
	if len(w.Signatures) > MaxSignatures {
		return nil, bad("%d signatures exceeds the limit of %d", len(w.Signatures), MaxSignatures)
	}
	env := &Envelope{PayloadType: *w.PayloadType, Payload: payload, Signatures: []Signature{}}
	for i, s := range w.Signatures {
		if s.KeyID == nil || *s.KeyID == "" || len(*s.KeyID) > maxKeyID {
			return nil, bad("signatures[%d]: keyid missing, empty or too long", i)
		}
		if s.Sig == nil {
			return nil, bad("signatures[%d]: no sig", i)
		}
		sig, err := decodeBase64(*s.Sig)
		if err != nil {
			return nil, bad("signatures[%d]: sig: %v", i, err)
		}
		if len(sig) == 0 || len(sig) > maxSig {
			return nil, bad("signatures[%d]: sig of %d bytes", i, len(sig))
		}
		env.Signatures = append(env.Signatures, Signature{KeyID: *s.KeyID, Sig: sig})
	}
	return env, nil
}

// decodeBase64 accepts standard or URL-safe base64, padded, as the DSSE
// spec allows, and refuses non-canonical encodings (stray bits, newlines)
// so that one envelope has one spelling.
func decodeBase64(s string) ([]byte, error) {
	if b, err := base64.StdEncoding.Strict().DecodeString(s); err == nil {
		return b, nil
	}
	b, err := base64.URLEncoding.Strict().DecodeString(s)
	if err != nil {
		return nil, fmt.Errorf("not canonical base64")
	}
	return b, nil
}
