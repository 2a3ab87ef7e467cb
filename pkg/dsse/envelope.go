package dsse

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"strconv"
	"strings"

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

// Parse decodes an envelope strictly: at most MaxEnvelopeSize bytes, one
// JSON object with exactly payloadType, payload and signatures (each with
// keyid and sig), names matched case-sensitively, no unknown or duplicate
// field, nothing after it, base64 that decodes canonically, a non-empty
// keyid and signature, at most MaxSignatures signatures. Anything else
// wraps errdef.ErrMalformed. It does not verify signatures.
func Parse(data []byte) (*Envelope, error) {
	bad := func(format string, args ...any) error {
		return fmt.Errorf("DSSE envelope: "+format+": %w", append(args, errdef.ErrMalformed)...)
	}
	if len(data) > MaxEnvelopeSize {
		return nil, bad("%d bytes exceeds the %d byte limit", len(data), MaxEnvelopeSize)
	}
	if bytes.HasPrefix(bytes.TrimSpace(data), []byte("-----BEGIN ")) {
		// verify cosign.pub --key manifest.dsse: the two the other way
		// round. The block is not echoed (it may be a private key).
		return nil, bad("a PEM block (a key or certificate), not a JSON envelope (given to verify, the envelope and the key the other way round?)")
	}
	if err := checkNoDuplicateKeys(data); err != nil {
		return nil, bad("%v", err)
	}
	var top map[string]json.RawMessage
	if err := decodeOne(data, &top); err != nil {
		return nil, bad("%v", err)
	}
	if err := onlyFields(top, "payloadType", "payload", "signatures"); err != nil {
		if _, ok := top["bundleId"]; ok {
			// verify bundle/manifest.json, as sign takes it.
			return nil, bad("a bundle's manifest.json (bundleId, images), not its envelope: give the bundle's manifest.dsse, or the bundle directory")
		}
		return nil, bad("%v", err)
	}
	var payloadType, payloadB64 string
	var rawSigs []map[string]json.RawMessage
	if err := stringField(top, "payloadType", &payloadType); err != nil || payloadType == "" {
		return nil, bad("payloadType missing or not a non-empty string")
	}
	if err := stringField(top, "payload", &payloadB64); err != nil {
		return nil, bad("payload missing or not a string")
	}
	payload, err := decodeBase64(payloadB64)
	if err != nil {
		return nil, bad("payload: %v", err)
	}
	if raw, ok := top["signatures"]; !ok || json.Unmarshal(raw, &rawSigs) != nil || rawSigs == nil {
		return nil, bad("signatures missing or not an array of objects")
	}
	if len(rawSigs) > MaxSignatures {
		return nil, bad("%d signatures exceeds the limit of %d", len(rawSigs), MaxSignatures)
	}
	env := &Envelope{PayloadType: payloadType, Payload: payload, Signatures: []Signature{}}
	for i, rs := range rawSigs {
		if err := onlyFields(rs, "keyid", "sig"); err != nil {
			return nil, bad("signatures[%d]: %v", i, err)
		}
		var keyID, sigB64 string
		if err := stringField(rs, "keyid", &keyID); err != nil || keyID == "" || len(keyID) > maxKeyID {
			return nil, bad("signatures[%d]: keyid missing, empty or too long", i)
		}
		if err := stringField(rs, "sig", &sigB64); err != nil {
			return nil, bad("signatures[%d]: sig missing or not a string", i)
		}
		sig, err := decodeBase64(sigB64)
		if err != nil {
			return nil, bad("signatures[%d]: sig: %v", i, err)
		}
		if len(sig) == 0 || len(sig) > maxSig {
			return nil, bad("signatures[%d]: sig of %d bytes", i, len(sig))
		}
		env.Signatures = append(env.Signatures, Signature{KeyID: keyID, Sig: sig})
	}
	return env, nil
}

// decodeOne decodes exactly one JSON value from data, with nothing after it.
func decodeOne(data []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(data))
	if err := dec.Decode(v); err != nil {
		return err
	}
	if _, err := dec.Token(); err != io.EOF {
		return fmt.Errorf("trailing data")
	}
	return nil
}

// onlyFields refuses a field not in names. Map keys are exact, so a field
// that differs only in case (which encoding/json would accept into a
// struct) is refused too.
func onlyFields(obj map[string]json.RawMessage, names ...string) error {
	for k := range obj {
		known := false
		for _, n := range names {
			known = known || k == n
		}
		if !known {
			return fmt.Errorf("unknown field %q", k)
		}
	}
	return nil
}

// stringField decodes obj[name], which must be present and a JSON string.
func stringField(obj map[string]json.RawMessage, name string, dst *string) error {
	raw, ok := obj[name]
	if !ok || len(raw) == 0 || raw[0] != '"' {
		return fmt.Errorf("%s: missing or not a string", name)
	}
	return json.Unmarshal(raw, dst)
}

// decodeBase64 accepts standard or URL-safe base64, padded, as the DSSE
// spec allows, and refuses non-canonical encodings (stray bits, newlines)
// so that one envelope has one spelling.
func decodeBase64(s string) ([]byte, error) {
	// Go's decoders skip line breaks even in strict mode.
	if strings.ContainsAny(s, "\r\n") {
		return nil, fmt.Errorf("line break in base64")
	}
	if b, err := base64.StdEncoding.Strict().DecodeString(s); err == nil {
		return b, nil
	}
	b, err := base64.URLEncoding.Strict().DecodeString(s)
	if err != nil {
		return nil, fmt.Errorf("not canonical base64")
	}
	return b, nil
}
