package dsse_test

import (
	"context"
	"errors"
	"reflect"
	"testing"

	"github.com/stellaops/mirror/pkg/dsse"
	"github.com/stellaops/mirror/pkg/errdef"
)

// FuzzParse feeds Parse any bytes (seeds: testdata/fuzz/FuzzParse, real
// envelopes among them). It must refuse what it refuses as malformed, and
// what it accepts must have one spelling: marshalled and parsed again, it
// is the same envelope. Verifying it with no trusted key fails as a
// signature failure, never a panic.
func FuzzParse(f *testing.F) {
	f.Add([]byte(`{"payloadType":"t","payload":"e30=","signatures":[{"keyid":"k","sig":"AQID"}]}`))
	f.Add([]byte(`{"payloadType":"t","payload":"","signatures":[]}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		env, err := dsse.Parse(data)
		if err != nil {
			if !errors.Is(err, errdef.ErrMalformed) {
				t.Fatalf("error %v is not ErrMalformed", err)
			}
			return
		}
		out, err := env.Marshal()
		if errors.Is(err, errdef.ErrUsage) {
			return // escaping made it larger than MaxEnvelopeSize
		}
		if err != nil {
			t.Fatal(err)
		}
		again, err := dsse.Parse(out)
		if err != nil {
			t.Fatalf("Parse(Marshal(%q)): %v", data, err)
		}
		if !reflect.DeepEqual(env, again) {
			t.Fatalf("%q parses to %+v, its marshalling to %+v", data, env, again)
		}
		if _, err := env.Verify(context.Background(), nil, 1); !errors.Is(err, errdef.ErrSignature) {
			t.Fatalf("verify with no trusted key: %v", err)
		}
	})
}
