package dsse_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"fmt"

	"github.com/stellaops/mirror/pkg/bundle"
	"github.com/stellaops/mirror/pkg/dsse"
	"github.com/stellaops/mirror/pkg/keys"
)

// ecdsaSigner is the smallest dsse.Signer: pkg/keys' Signer is the real one.
type ecdsaSigner struct {
	v *keys.Verifier
	k *ecdsa.PrivateKey
}

func (s ecdsaSigner) KeyID() string { return s.v.KeyID() }
func (s ecdsaSigner) Sign(_ context.Context, msg []byte) ([]byte, error) {
	return (&testKey{priv: s.k}).Sign(context.Background(), msg)
}

func ExampleEnvelope_Verify() {
	ctx := context.Background()
	priv, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	v, _ := keys.NewVerifier(&priv.PublicKey, "example")

	env := dsse.New(bundle.PayloadType, []byte(`{"bundleId":"2025.10.0-stable"}`))
	if err := env.Sign(ctx, ecdsaSigner{v, priv}); err != nil {
		panic(err)
	}
	data, _ := env.Marshal()

	parsed, err := dsse.Parse(data)
	if err != nil {
		panic(err)
	}
	res, err := parsed.Verify(ctx, []dsse.Verifier{v}, 1)
	fmt.Println(err == nil, len(res.Accepted), string(parsed.Payload))
	// Output: true 1 {"bundleId":"2025.10.0-stable"}
}

func ExamplePAE() {
	fmt.Printf("%s\n", dsse.PAE(bundle.PayloadType, []byte("{}")))
	// Output: DSSEv1 44 application/vnd.stellaops.mirror-bundle+json 2 {}
}
