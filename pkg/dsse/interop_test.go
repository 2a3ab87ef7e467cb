package dsse_test

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"testing"

	ssl "github.com/secure-systems-lab/go-securesystemslib/dsse"

	"github.com/stellaops/mirror/pkg/bundle"
	"github.com/stellaops/mirror/pkg/dsse"
)

// sslKey adapts a test key to go-securesystemslib's interfaces with plain
// crypto/ecdsa, independent of our code.
type sslKey struct{ k *testKey }

func (s sslKey) Sign(ctx context.Context, data []byte) ([]byte, error) { return s.k.Sign(ctx, data) }
func (s sslKey) KeyID() (string, error)                                { return s.k.id, nil }
func (s sslKey) Public() crypto.PublicKey                              { return &s.k.priv.PublicKey }
func (s sslKey) Verify(_ context.Context, data, sig []byte) error {
	sum := sha256.Sum256(data)
	if !ecdsa.VerifyASN1(&s.k.priv.PublicKey, sum[:], sig) {
		return errors.New("bad signature")
	}
	return nil
}

// An independent DSSE implementation verifies our envelopes.
func TestInteropTheyVerifyOurs(t *testing.T) {
	ctx := context.Background()
	a, b := newKey(t), newKey(t)
	env := dsse.New(bundle.PayloadType, []byte(`{"bundleId":"x"}`+"\n"))
	for _, k := range []*testKey{a, b} {
		if err := env.Sign(ctx, k); err != nil {
			t.Fatal(err)
		}
	}
	data, err := env.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	var theirs ssl.Envelope
	if err := json.Unmarshal(data, &theirs); err != nil {
		t.Fatal(err)
	}
	ev, err := ssl.NewMultiEnvelopeVerifier(2, sslKey{a}, sslKey{b})
	if err != nil {
		t.Fatal(err)
	}
	accepted, err := ev.Verify(ctx, &theirs)
	if err != nil || len(accepted) != 2 {
		t.Fatalf("go-securesystemslib refuses our envelope: %v (%d accepted)", err, len(accepted))
	}
	other := newKey(t)
	ev1, _ := ssl.NewEnvelopeVerifier(sslKey{other})
	if _, err := ev1.Verify(ctx, &theirs); err == nil {
		t.Fatal("go-securesystemslib accepts our envelope with a foreign key")
	}
}

// We verify envelopes an independent DSSE implementation made.
func TestInteropWeVerifyTheirs(t *testing.T) {
	ctx := context.Background()
	a := newKey(t)
	es, err := ssl.NewEnvelopeSigner(sslKey{a})
	if err != nil {
		t.Fatal(err)
	}
	payload := []byte(`{"bundleId":"y"}` + "\n")
	theirs, err := es.SignPayload(ctx, bundle.PayloadType, payload)
	if err != nil {
		t.Fatal(err)
	}
	data, err := json.Marshal(theirs)
	if err != nil {
		t.Fatal(err)
	}
	env, err := dsse.Parse(data)
	if err != nil {
		t.Fatalf("we cannot parse their envelope: %v\n%s", err, data)
	}
	if string(env.Payload) != string(payload) || env.PayloadType != bundle.PayloadType {
		t.Fatalf("payload %q type %q", env.Payload, env.PayloadType)
	}
	if _, err := env.Verify(ctx, []dsse.Verifier{a.verifier(t)}, 1); err != nil {
		t.Fatalf("we refuse their envelope: %v", err)
	}
	if _, err := env.Verify(ctx, []dsse.Verifier{newKey(t).verifier(t)}, 1); err == nil {
		t.Fatal("we accept their envelope with a foreign key")
	}
}
