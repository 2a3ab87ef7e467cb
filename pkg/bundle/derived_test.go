package bundle

import (
	"bytes"
	"encoding/json"
	"errors"
	"testing"
	"time"

	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/stellaops/mirror/pkg/errdef"
)

// TestCheckSignatureManifest: the DSSE referrer is accepted only as
// SignatureManifest writes it; any other byte is refused as malformed.
func TestCheckSignatureManifest(t *testing.T) {
	root := ocispec.Descriptor{MediaType: ocispec.MediaTypeImageIndex, Digest: digest.FromString("root"), Size: 4}
	env := ocispec.Descriptor{MediaType: ArtifactTypeDSSE, Digest: digest.FromString("envelope"), Size: 8}
	created := time.Date(2025, 12, 1, 0, 0, 0, 0, time.UTC)
	good, err := SignatureManifest(root, env, created)
	if err != nil {
		t.Fatal(err)
	}
	edit := func(f func(m *ocispec.Manifest)) []byte {
		var m ocispec.Manifest
		if err := json.Unmarshal(good.Bytes, &m); err != nil {
			t.Fatal(err)
		}
		f(&m)
		data, err := Compact(m)
		if err != nil {
			t.Fatal(err)
		}
		return data
	}
	tests := []struct {
		name    string
		data    []byte
		env     ocispec.Descriptor
		wantErr error
	}{
		{"as sign writes it", good.Bytes, env, nil},
		{"another config", edit(func(m *ocispec.Manifest) {
			m.Config = ocispec.Descriptor{MediaType: "application/octet-stream", Digest: digest.FromString("x"), Size: 1}
		}), env, errdef.ErrMalformed},
		{"an annotation more", edit(func(m *ocispec.Manifest) { m.Annotations["x"] = "y" }), env, errdef.ErrMalformed},
		{"no created annotation", edit(func(m *ocispec.Manifest) { m.Annotations = nil }), env, errdef.ErrMalformed},
		{"created not in UTC", edit(func(m *ocispec.Manifest) {
			m.Annotations[ocispec.AnnotationCreated] = created.In(time.FixedZone("x", 3600)).Format(time.RFC3339)
		}), env, errdef.ErrMalformed},
		{"another layer media type", edit(func(m *ocispec.Manifest) { m.Layers[0].MediaType = "application/octet-stream" }), env, errdef.ErrMalformed},
		{"another envelope", good.Bytes, ocispec.Descriptor{Digest: digest.FromString("other"), Size: 5}, errdef.ErrMalformed},
		{"not JSON", []byte("{"), env, errdef.ErrMalformed},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := CheckSignatureManifest(tt.data, root, tt.env)
			if !errors.Is(err, tt.wantErr) || (err == nil) != (tt.wantErr == nil) {
				t.Errorf("err = %v, want %v", err, tt.wantErr)
			}
		})
	}
}

// TestCheckDerived: the root and the metadata manifest are accepted only
// as manifest.json makes them.
func TestCheckDerived(t *testing.T) {
	m := validManifest()
	data, err := m.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	mjson := ocispec.Descriptor{MediaType: MediaTypeManifestJSON, Digest: digest.FromBytes(data), Size: int64(len(data))}
	meta, err := MetadataManifest(mjson, m)
	if err != nil {
		t.Fatal(err)
	}
	root, err := RootIndex(m, meta.Descriptor)
	if err != nil {
		t.Fatal(err)
	}
	if err := CheckDerived(root.Descriptor, meta.Bytes, mjson, m); err != nil {
		t.Fatalf("as create makes them: %v", err)
	}
	spaced := append(bytes.Clone(meta.Bytes[:len(meta.Bytes)-1]), ' ', '}')
	if err := CheckDerived(root.Descriptor, spaced, mjson, m); !errors.Is(err, errdef.ErrMalformed) {
		t.Errorf("metadata manifest with a byte more: %v", err)
	}
	other := root.Descriptor
	other.Digest = digest.FromString("another root")
	if err := CheckDerived(other, meta.Bytes, mjson, m); !errors.Is(err, errdef.ErrMalformed) {
		t.Errorf("another root: %v", err)
	}
}
