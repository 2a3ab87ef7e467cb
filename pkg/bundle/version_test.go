package bundle

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/stellaops/mirror/pkg/errdef"
)

// newer is m as a newer stella might write it: schemaVersion 2, with a
// field this stella does not know.
func newer(t *testing.T, m *Manifest) []byte {
	t.Helper()
	data, err := m.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	var generic map[string]any
	if err := json.Unmarshal(data, &generic); err != nil {
		t.Fatal(err)
	}
	generic["schemaVersion"] = 2
	generic["signedBy"] = map[string]any{"team": "release"}
	out, err := Canonical(generic)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// TestNewerFormatSaysUpgrade: a document of a format newer than this stella
// reads is refused in one line that names it, both versions and what to do
// (errdef.ErrNewerFormat, exit 11 as malformed), not as "malformed" alone
// (before: "manifest.json: json: unknown field "signedBy": malformed").
func TestNewerFormatSaysUpgrade(t *testing.T) {
	m := validManifest()
	manifestErr := func() error { _, err := ParseManifest(newer(t, m)); return err }
	rootErr := func() error {
		idx := ocispec.Index{MediaType: ocispec.MediaTypeImageIndex, ArtifactType: "application/vnd.stellaops.mirror.bundle.v2+json"}
		data, _ := json.Marshal(idx)
		_, err := ParseRoot(data)
		return err
	}
	metadataErr := func() error {
		mj := ocispec.Descriptor{MediaType: MediaTypeManifestJSON, Digest: digest.FromString("x"), Size: 1}
		meta, err := MetadataManifest(mj, m)
		if err != nil {
			t.Fatal(err)
		}
		data := []byte(strings.Replace(string(meta.Bytes), ArtifactTypeMetadata, "application/vnd.stellaops.mirror.metadata.v3+json", 1))
		return CheckMetadata(data, mj, m)
	}
	for _, tt := range []struct {
		name string
		err  func() error
		want string
	}{
		{"manifest.json", manifestErr, "manifest.json was made by a newer stella (schemaVersion 2; this stella reads 1): upgrade stella on this side: newer format"},
		{"schemaVersion alone", func() error { return CheckSchemaVersion("list.json", []byte(`{"schemaVersion": 7}`), 1) },
			"list.json was made by a newer stella (schemaVersion 7; this stella reads 1): upgrade stella on this side"},
		{"root artifactType", rootErr, "was made by a newer stella (artifactType application/vnd.stellaops.mirror.bundle.v2+json; this stella reads v1): upgrade stella on this side"},
		{"metadata artifactType", metadataErr, "was made by a newer stella (artifactType application/vnd.stellaops.mirror.metadata.v3+json; this stella reads v1)"},
	} {
		err := tt.err()
		if !errors.Is(err, errdef.ErrNewerFormat) || !errors.Is(err, errdef.ErrMalformed) || !strings.Contains(err.Error(), tt.want) || strings.Contains(err.Error(), "\n") {
			t.Errorf("%s: %v\nwant ErrNewerFormat (and ErrMalformed), one line containing %q", tt.name, err, tt.want)
		}
	}
	// Not newer: the same or an older version, another type, or not JSON
	// at all, is left to the strict checks after it.
	for _, doc := range []string{`{"schemaVersion": 1}`, `{"schemaVersion": 0}`, `{"schemaVersion": "2"}`, `not json`, `{"schemaVersion": 1e400}`} {
		if err := CheckSchemaVersion("x", []byte(doc), 1); err != nil {
			t.Errorf("%s: %v", doc, err)
		}
	}
	for _, mt := range []string{ArtifactTypeBundle, "application/vnd.stellaops.mirror.bundle.v01+json", "application/vnd.stellaops.mirror.bundle.v0+json", "application/vnd.other.v9+json"} {
		if err := CheckArtifactType("root", mt, ArtifactTypeBundle); err != nil {
			t.Errorf("%s: %v", mt, err)
		}
	}
	// A manifest.json of this version with an unknown field is malformed,
	// not newer: it is hostile, or a writer forgot to bump schemaVersion.
	data, _ := m.Marshal()
	data = []byte(strings.Replace(string(data), `"schemaVersion": 1`, `"schemaVersion": 1, "x": 1`, 1))
	if _, err := ParseManifest(data); !errors.Is(err, errdef.ErrMalformed) || errors.Is(err, errdef.ErrNewerFormat) {
		t.Errorf("unknown field at schemaVersion 1: %v", err)
	}
}
