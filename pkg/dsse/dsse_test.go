package dsse_test

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/stellaops/mirror/pkg/bundle"
	"github.com/stellaops/mirror/pkg/dsse"
	"github.com/stellaops/mirror/pkg/errdef"
	"github.com/stellaops/mirror/pkg/keys"
)

// testKey is an in-memory ECDSA P-256 key that signs and verifies as
// pkg/keys does, without touching pkg/keys' own signing code.
type testKey struct {
	priv *ecdsa.PrivateKey
	id   string
}

func newKey(t *testing.T) *testKey {
	t.Helper()
	priv, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	id, err := keys.KeyID(&priv.PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	return &testKey{priv: priv, id: id}
}

func (k *testKey) KeyID() string { return k.id }

func (k *testKey) Sign(_ context.Context, msg []byte) ([]byte, error) {
	sum := sha256.Sum256(msg)
	return ecdsa.SignASN1(rand.Reader, k.priv, sum[:])
}

func (k *testKey) verifier(t *testing.T) dsse.Verifier {
	v, err := keys.NewVerifier(&k.priv.PublicKey, "test")
	if err != nil {
		t.Fatal(err)
	}
	return v
}

func TestPAE(t *testing.T) {
	// The example of the DSSE protocol specification.
	got := dsse.PAE("http://example.com/HelloWorld", []byte("hello world"))
	want := "DSSEv1 29 http://example.com/HelloWorld 11 hello world"
	if string(got) != want {
		t.Fatalf("PAE = %q, want %q", got, want)
	}
}

func TestEnvelopeShape(t *testing.T) {
	k := newKey(t)
	payload := []byte(`{"schemaVersion":1}` + "\n")
	env := dsse.New(bundle.PayloadType, payload)
	if err := env.Sign(context.Background(), k); err != nil {
		t.Fatal(err)
	}
	data, err := env.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	var raw map[string]any
	if err := json.Unmarshal(data, &raw); err != nil {
		t.Fatal(err)
	}
	if raw["payloadType"] != "application/vnd.stellaops.mirror-bundle+json" {
		t.Errorf("payloadType %v", raw["payloadType"])
	}
	if raw["payload"] != base64.StdEncoding.EncodeToString(payload) {
		t.Errorf("payload %v is not the base64 of the exact bytes", raw["payload"])
	}
	sigs := raw["signatures"].([]any)
	sig := sigs[0].(map[string]any)
	if len(sigs) != 1 || sig["keyid"] != k.id || !strings.HasPrefix(k.id, "sha256:") || len(k.id) != 71 {
		t.Errorf("signatures %v, keyid want %s", sigs, k.id)
	}
	if !bytes.HasPrefix(data, []byte(`{"payloadType":`)) {
		t.Errorf("field order: %s", data)
	}
}

func TestVerifyThreshold(t *testing.T) {
	ctx := context.Background()
	a, b, c := newKey(t), newKey(t), newKey(t)
	sign := func(signers ...*testKey) *dsse.Envelope {
		env := dsse.New(bundle.PayloadType, []byte("{}"))
		for _, s := range signers {
			if err := env.Sign(ctx, s); err != nil {
				t.Fatal(err)
			}
		}
		return env
	}
	// Envelopes sign cannot make (it replaces a key's own signature): A's
	// signature twice, re-signed or copied, and A's signature again under
	// another spelling of its keyid, or under B's.
	twice := func(keyid func(first dsse.Signature) string, resign bool) *dsse.Envelope {
		env := sign(a)
		first := env.Signatures[0]
		sig := first.Sig
		if resign {
			var err error
			if sig, err = a.Sign(ctx, dsse.PAE(env.PayloadType, env.Payload)); err != nil {
				t.Fatal(err)
			}
		}
		env.Signatures = append(env.Signatures, dsse.Signature{KeyID: keyid(first), Sig: sig})
		return env
	}
	same := func(s dsse.Signature) string { return s.KeyID }
	upper := func(s dsse.Signature) string { return strings.ToUpper(s.KeyID) }
	asB := func(dsse.Signature) string { return b.id }
	tests := []struct {
		name      string
		env       *dsse.Envelope
		trusted   []dsse.Verifier
		threshold int
		accepted  int
		wantErr   error
	}{
		{"one key", sign(a), []dsse.Verifier{a.verifier(t)}, 0, 1, nil},
		{"A's signature copied", twice(same, false), []dsse.Verifier{a.verifier(t), b.verifier(t)}, 2, 0, errdef.ErrSignature},
		{"A re-signed", twice(same, true), []dsse.Verifier{a.verifier(t), b.verifier(t)}, 2, 0, errdef.ErrSignature},
		{"A again under its keyid in capitals", twice(upper, true), []dsse.Verifier{a.verifier(t), b.verifier(t)}, 2, 0, errdef.ErrSignature},
		{"A again under B's keyid", twice(asB, true), []dsse.Verifier{a.verifier(t), b.verifier(t)}, 1, 0, errdef.ErrSignature},
		{"A trusted twice", sign(a), []dsse.Verifier{a.verifier(t), a.verifier(t)}, 2, 0, errdef.ErrSignature},
		{"A re-signed, threshold 1", twice(same, true), []dsse.Verifier{a.verifier(t)}, 1, 1, nil},
		{"two of two", sign(a, b), []dsse.Verifier{a.verifier(t), b.verifier(t)}, 2, 2, nil},
		{"untrusted third ignored", sign(a, b, c), []dsse.Verifier{a.verifier(t), b.verifier(t)}, 2, 2, nil},
		{"signed twice by one key: one signature", sign(a, a), []dsse.Verifier{a.verifier(t), b.verifier(t)}, 2, 0, errdef.ErrSignature},
		{"one of two required", sign(a), []dsse.Verifier{a.verifier(t), b.verifier(t)}, 2, 0, errdef.ErrSignature},
		{"other key", sign(c), []dsse.Verifier{a.verifier(t)}, 1, 0, errdef.ErrSignature},
		{"no trusted key", sign(a), nil, 1, 0, errdef.ErrSignature},
		{"threshold above trusted keys", sign(a), []dsse.Verifier{a.verifier(t)}, 2, 0, errdef.ErrSignature},
		{"unsigned", sign(), []dsse.Verifier{a.verifier(t)}, 1, 0, errdef.ErrSignature},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res, err := tt.env.Verify(ctx, tt.trusted, tt.threshold)
			if !errors.Is(err, tt.wantErr) || (tt.wantErr == nil) != (err == nil) {
				t.Fatalf("err = %v, want %v", err, tt.wantErr)
			}
			if err == nil && len(res.Accepted) != tt.accepted {
				t.Errorf("accepted %v, want %d", res.Accepted, tt.accepted)
			}
		})
	}
	// A refusal names who did sign, so that the operator can tell a
	// wrong --key from a forgery.
	if _, err := sign(c).Verify(ctx, []dsse.Verifier{a.verifier(t)}, 1); err == nil || !strings.Contains(err.Error(), c.id) {
		t.Errorf("err = %v, want it to name the untrusted key %s", err, c.id)
	}
	// And the key it was given: the operator holding a wrong --key sees
	// both ids side by side, without computing the given key's by hand.
	if _, err := sign(c).Verify(ctx, []dsse.Verifier{a.verifier(t)}, 1); err == nil || !strings.Contains(err.Error(), "; trusted: "+a.id+")") {
		t.Errorf("err = %v, want it to name the trusted key %s", err, a.id)
	}
}

func TestSignReplacesOwnSignature(t *testing.T) {
	ctx := context.Background()
	a, b := newKey(t), newKey(t)
	env := dsse.New(bundle.PayloadType, []byte("{}"))
	for _, k := range []*testKey{a, b, a} {
		if err := env.Sign(ctx, k); err != nil {
			t.Fatal(err)
		}
	}
	if len(env.Signatures) != 2 || env.Signatures[0].KeyID != b.id || env.Signatures[1].KeyID != a.id {
		t.Fatalf("signatures %+v", env.Signatures)
	}
}

// A trusted key's signature that does not verify fails the envelope even
// when enough other signatures verify: it was tampered with.
func TestBadTrustedSignatureFailsClosed(t *testing.T) {
	ctx := context.Background()
	a, b := newKey(t), newKey(t)
	env := dsse.New(bundle.PayloadType, []byte("{}"))
	for _, k := range []*testKey{a, b} {
		if err := env.Sign(ctx, k); err != nil {
			t.Fatal(err)
		}
	}
	env.Signatures[1].Sig[10] ^= 0x01
	if _, err := env.Verify(ctx, []dsse.Verifier{a.verifier(t), b.verifier(t)}, 1); !errors.Is(err, errdef.ErrSignature) {
		t.Fatalf("err = %v, want ErrSignature", err)
	}
}

func TestParseStrict(t *testing.T) {
	good := `{"payloadType":"t","payload":"e30=","signatures":[{"keyid":"k","sig":"AQID"}]}`
	if _, err := dsse.Parse([]byte(good)); err != nil {
		t.Fatalf("good envelope: %v", err)
	}
	if env, err := dsse.Parse([]byte(`{"payloadType":"t","payload":"e30=","signatures":[{"keyid":"k","sig":"-_8="}]}`)); err != nil || !bytes.Equal(env.Signatures[0].Sig, []byte{0xfb, 0xff}) {
		t.Fatalf("URL-safe base64 (allowed by the DSSE spec): %v", err)
	}
	many := `{"payloadType":"t","payload":"e30=","signatures":[` + strings.Repeat(`{"keyid":"k","sig":"AQID"},`, dsse.MaxSignatures) + `{"keyid":"k","sig":"AQID"}]}`
	tests := map[string]string{
		"not JSON":            `DSSE`,
		"unknown field":       `{"payloadType":"t","payload":"e30=","signatures":[],"extra":1}`,
		"unknown sig field":   `{"payloadType":"t","payload":"e30=","signatures":[{"keyid":"k","sig":"AQID","cert":"x"}]}`,
		"duplicate field":     `{"payloadType":"t","payload":"e30=","payload":"e30=","signatures":[]}`,
		"duplicate sig field": `{"payloadType":"t","payload":"e30=","signatures":[{"keyid":"k","keyid":"j","sig":"AQID"}]}`,
		"trailing data":       good + `{}`,
		"trailing garbage":    good + "\v",
		"no payloadType":      `{"payload":"e30=","signatures":[]}`,
		"no payload":          `{"payloadType":"t","signatures":[]}`,
		"no signatures":       `{"payloadType":"t","payload":"e30="}`,
		"bad payload base64":  `{"payloadType":"t","payload":"e30","signatures":[]}`,
		"non-canonical bits":  `{"payloadType":"t","payload":"e31=","signatures":[]}`,
		"newline in base64":   `{"payloadType":"t","payload":"e3\n0=","signatures":[]}`,
		"empty keyid":         `{"payloadType":"t","payload":"e30=","signatures":[{"keyid":"","sig":"AQID"}]}`,
		"no keyid":            `{"payloadType":"t","payload":"e30=","signatures":[{"sig":"AQID"}]}`,
		"empty sig":           `{"payloadType":"t","payload":"e30=","signatures":[{"keyid":"k","sig":""}]}`,
		"too many signatures": many,
		"too large":           `{"payloadType":"t","payload":"` + strings.Repeat("A", dsse.MaxEnvelopeSize) + `","signatures":[]}`,
	}
	for name, doc := range tests {
		t.Run(name, func(t *testing.T) {
			if _, err := dsse.Parse([]byte(doc)); !errors.Is(err, errdef.ErrMalformed) {
				t.Fatalf("err = %v, want ErrMalformed", err)
			}
		})
	}
}

// Every single-byte change of a signed envelope is refused: as malformed,
// or as a signature failure. None verifies.
func TestEveryByteOfTheEnvelopeIsBound(t *testing.T) {
	ctx := context.Background()
	k := newKey(t)
	env := dsse.New(bundle.PayloadType, []byte(`{"release":{"version":"2025.10.0"}}`+"\n"))
	if err := env.Sign(ctx, k); err != nil {
		t.Fatal(err)
	}
	data, err := env.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	trusted := []dsse.Verifier{k.verifier(t)}
	for i := range data {
		for _, flip := range []byte{0x01, 0x20} {
			mod := bytes.Clone(data)
			mod[i] ^= flip
			got, err := dsse.Parse(mod)
			if err == nil {
				_, err = got.Verify(ctx, trusted, 1)
			}
			if err == nil {
				t.Fatalf("byte %d (%q) ^ %#x: the envelope still verifies", i, data[i], flip)
			}
			if !errors.Is(err, errdef.ErrSignature) && !errors.Is(err, errdef.ErrMalformed) {
				t.Fatalf("byte %d: err = %v, want ErrSignature or ErrMalformed", i, err)
			}
		}
	}
}

// An envelope nested millions deep (within MaxEnvelopeSize) is refused as
// malformed, not a stack overflow that kills the process.
func TestParseRefusesDeepNesting(t *testing.T) {
	for _, data := range [][]byte{
		bytes.Repeat([]byte("["), dsse.MaxEnvelopeSize-1),
		[]byte(`{"payloadType":"t","payload":"","signatures":[],"x":` + strings.Repeat("[", dsse.MaxEnvelopeSize/2-100) + `}`),
	} {
		if _, err := dsse.Parse(data); !errors.Is(err, errdef.ErrMalformed) {
			t.Fatalf("err = %v, want ErrMalformed", err)
		}
	}
}

// A key given where the envelope goes (verify cosign.pub --key
// manifest.dsse) is refused saying so, and its bytes are not echoed: it
// said "invalid character '-' in numeric literal".
func TestParseKeyForEnvelope(t *testing.T) {
	const secret = "MHcCAQEEIBkg4LVWM9nuwNSk3yByxZpYRTBnVJk5oAsYhvHwIWa+"
	pemKey := "-----BEGIN EC PRIVATE KEY-----\n" + secret + "\n-----END EC PRIVATE KEY-----\n"
	_, err := dsse.Parse([]byte(pemKey))
	if !errors.Is(err, errdef.ErrMalformed) || !strings.Contains(err.Error(), "a PEM block (a key or certificate), not a JSON envelope") || strings.Contains(err.Error(), secret[:20]) {
		t.Fatalf("err = %v, want ErrMalformed saying a PEM block was given, the key not echoed", err)
	}
}

// A bundle's manifest.json given where the envelope goes (verify
// bundle/manifest.json, as sign takes it) is refused saying so: it said
// `unknown field "advisories"`, naming no way out (found by review).
func TestParseManifestForEnvelope(t *testing.T) {
	manifest := `{"advisories": [], "bundleId": "2025.10.0-stable-0f2a", "images": [], "mirrorGeneration": 1, "schemaVersion": 1}` + "\n"
	_, err := dsse.Parse([]byte(manifest))
	if !errors.Is(err, errdef.ErrMalformed) || !strings.Contains(err.Error(), "manifest.json") || !strings.Contains(err.Error(), "manifest.dsse") {
		t.Fatalf("err = %v, want ErrMalformed saying a bundle's manifest.json was given, pointing at manifest.dsse", err)
	}
}
