package bundle

import (
	"encoding/json"
	"fmt"
	"strconv"
	"strings"

	"github.com/stellaops/mirror/pkg/errdef"
)

// Format versions this stella writes and reads. A reader takes its own
// version and every older one still listed in testdata/bundles; a newer
// one is refused with errdef.ErrNewerFormat and the advice to upgrade.
const (
	// ArtifactVersion is the vN of the bundle's artifact types
	// (ArtifactTypeBundle, ArtifactTypeMetadata, MediaTypeManifestJSON).
	ArtifactVersion = 1
	// VolumeListVersion is the schemaVersion of a volume list (pack --split).
	VolumeListVersion = 1
	// InventoryVersion is the schemaVersion of an inventory.
	InventoryVersion = 1
	// CatalogVersion is the schemaVersion of a catalog.
	CatalogVersion = 1
)

// NewerError says that name was made by a newer stella: found is what
// says so ("schemaVersion 2"), reads the newest version this stella reads.
// It wraps errdef.ErrNewerFormat, an errdef.ErrMalformed.
func NewerError(name, found, reads string) error {
	return fmt.Errorf("%s was made by a newer stella (%s; this stella reads %s): upgrade stella on this side: %w", name, found, reads, errdef.ErrNewerFormat)
}

// CheckSchemaVersion refuses data, a versioned JSON document (manifest.json,
// a volume list, an inventory, a catalog), whose schemaVersion is newer
// than reads, naming it as name. It reads nothing else and says nothing of
// a document it cannot read (not JSON, no number): the strict decoder that
// follows names that. It runs before the strict decoding, which would
// refuse a newer document's new fields as unknown, saying "malformed" and
// nothing about versions.
func CheckSchemaVersion(name string, data []byte, reads int) error {
	var head struct {
		SchemaVersion json.RawMessage `json:"schemaVersion"`
	}
	if len(data) > MaxManifestSize || json.Unmarshal(data, &head) != nil {
		return nil
	}
	// A plain integer only: "2" (a string) or 2.0 is the strict
	// decoder's to refuse.
	v, err := strconv.Atoi(string(head.SchemaVersion))
	if err != nil || v <= reads {
		return nil
	}
	return NewerError(name, "schemaVersion "+strconv.Itoa(v), strconv.Itoa(reads))
}

// artifactVersion returns N for a media type of the form prefix + "vN+json"
// (application/vnd.stellaops.mirror.bundle.v2+json), N >= 1.
func artifactVersion(mt, prefix string) (int, bool) {
	rest, ok := strings.CutPrefix(mt, prefix+"v")
	if !ok {
		return 0, false
	}
	num, ok := strings.CutSuffix(rest, "+json")
	if !ok {
		return 0, false
	}
	n, err := strconv.Atoi(num)
	if err != nil || n < 1 || strconv.Itoa(n) != num {
		return 0, false
	}
	return n, true
}

// CheckArtifactType refuses mt, the artifactType or media type of a
// bundle's part (its root, metadata manifest or manifest.json layer), when
// it is the same type in a version newer than ArtifactVersion; name says
// what carries it. Any other mismatch is left to the caller.
func CheckArtifactType(name, mt, want string) error {
	prefix := strings.TrimSuffix(want, "v"+strconv.Itoa(ArtifactVersion)+"+json")
	if n, ok := artifactVersion(mt, prefix); ok && n > ArtifactVersion {
		return NewerError(name, "artifactType "+mt, "v"+strconv.Itoa(ArtifactVersion))
	}
	return nil
}
