package mirror

import (
	"encoding/json"
	"reflect"
	"testing"

	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	"oras.land/oras-go/v2/content"
)

func placeOf(t *testing.T, v any, mediaType string) manifestPlace {
	t.Helper()
	data, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	d := content.NewDescriptorFromBytes(mediaType, data)
	return newManifestPlace("r", ocispec.Descriptor{MediaType: d.MediaType, Digest: d.Digest, Size: d.Size}, data)
}

// manifestWaves keeps every manifest after those it names (children,
// subject); what depends on nothing before it goes in the first wave, a
// subject's referrers together.
func TestManifestWaves(t *testing.T) {
	cfg := ocispec.Descriptor{MediaType: ocispec.MediaTypeEmptyJSON, Digest: ocispec.DescriptorEmptyJSON.Digest, Size: 2}
	man := func(i int) manifestPlace {
		return placeOf(t, ocispec.Manifest{MediaType: ocispec.MediaTypeImageManifest, Config: cfg, Annotations: map[string]string{"i": string(rune('a' + i))}}, ocispec.MediaTypeImageManifest)
	}
	a, b, single := man(0), man(1), man(2)
	index := placeOf(t, ocispec.Index{MediaType: ocispec.MediaTypeImageIndex, Manifests: []ocispec.Descriptor{a.desc, b.desc}}, ocispec.MediaTypeImageIndex)
	ref := func(subject manifestPlace, n string) manifestPlace {
		return placeOf(t, ocispec.Manifest{MediaType: ocispec.MediaTypeImageManifest, Config: cfg, Subject: &subject.desc, Annotations: map[string]string{"n": n}}, ocispec.MediaTypeImageManifest)
	}
	sig, sbom, other := ref(index, "sig"), ref(index, "sbom"), ref(single, "sig")
	sigOfSig := ref(sig, "countersig")
	broken := newManifestPlace("r", ocispec.Descriptor{MediaType: ocispec.MediaTypeImageIndex, Digest: digest.FromString("broken"), Size: 3}, []byte("{x"))

	for _, tc := range []struct {
		name string
		list []manifestPlace
		want [][]int
	}{
		{"images", []manifestPlace{a, b, index, single}, [][]int{{0, 1, 3}, {2}}},
		{"referrers", []manifestPlace{sig, sbom, other, sigOfSig}, [][]int{{0, 1, 2}, {3}}},
		{"referrers with their subject", []manifestPlace{index, sig, sigOfSig, sbom}, [][]int{{0}, {1, 3}, {2}}},
		{"unreadable", []manifestPlace{a, b, broken, single}, [][]int{{0, 1, 3}, {2}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := manifestWaves(tc.list); !reflect.DeepEqual(got, tc.want) {
				t.Errorf("manifestWaves = %v, want %v", got, tc.want)
			}
		})
	}
}
