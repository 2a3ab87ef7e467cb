package mirror_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/stellaops/mirror/internal/sample"
	"github.com/stellaops/mirror/pkg/bundle"
	"github.com/stellaops/mirror/pkg/errdef"
	"github.com/stellaops/mirror/pkg/layout"
)

// TestVerifySaysSignAgainAfterTwoKilledSigns: a sign killed after writing
// its signature's blobs, before index.json names them, leaves two (three)
// blobs nothing reaches, which verify refuses saying to run sign again;
// a second sign killed alike left as many again, and verify refused the
// four as blobs no manifest reaches, with no word of the sign, though
// sign removes them (up to maxUnreachedBlobs). It now says to run sign
// again for what any number of killed signs leave.
func TestVerifySaysSignAgainAfterTwoKilledSigns(t *testing.T) {
	s := newSignedSample(t, sample.Spec{Seed: 1}, 0)
	d, err := layout.Open(s.dir)
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	idx, err := d.Index()
	if err != nil {
		t.Fatal(err)
	}
	var root ocispec.Descriptor
	for _, m := range idx.Manifests {
		if m.ArtifactType == bundle.ArtifactTypeBundle {
			root = m
		}
	}
	if root.Digest == "" {
		t.Fatal("no bundle root in index.json")
	}
	killedSign := func(n int) {
		env := []byte(fmt.Sprintf(`{"payloadType":"x","payload":"","signatures":[{"sig":"%d"}]}`, n))
		envDesc := ocispec.Descriptor{MediaType: bundle.ArtifactTypeDSSE, Digest: digest.FromBytes(env), Size: int64(len(env))}
		ref, err := bundle.SignatureManifest(root, envDesc, time.Unix(int64(n), 0))
		if err != nil {
			t.Fatal(err)
		}
		for _, b := range []struct {
			desc ocispec.Descriptor
			data []byte
		}{{envDesc, env}, {bundle.EmptyConfig, bundle.EmptyConfigBytes}, {ref.Descriptor, ref.Bytes}} {
			if err := d.PushBytes(context.Background(), b.desc, b.data); err != nil {
				t.Fatal(err)
			}
		}
	}
	for n := 1; n <= 3; n++ {
		killedSign(n)
		_, err := verify(s.dir, trustKeys(s.pub))
		if !errors.Is(err, errdef.ErrMalformed) || !strings.Contains(err.Error(), "run sign again") {
			t.Errorf("after %d killed signs: verify: %v; want malformed, saying to run sign again", n, err)
		}
	}
	sign(t, s.dir, s.priv)
	if _, err := verify(s.dir, trustKeys(s.pub)); err != nil {
		t.Fatalf("signed again: %v", err)
	}
}
