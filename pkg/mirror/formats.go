package mirror

import "github.com/stellaops/mirror/pkg/bundle"

// Formats are the format versions of the documents this stella writes. It
// reads each of them and every older one (the generations kept in
// testdata/bundles); a newer one is refused with errdef.ErrNewerFormat,
// saying to upgrade stella on that side.
type Formats struct {
	// Manifest is manifest.json's schemaVersion: the bundle format.
	Manifest int `json:"manifest"`
	// ArtifactType is the vN of the bundle's artifact types
	// (application/vnd.stellaops.mirror.bundle.v1+json).
	ArtifactType int `json:"artifactType"`
	// VolumeList, Inventory and Catalog are the schemaVersions of a split
	// archive's volume list, an inventory and a catalog.
	VolumeList int `json:"volumeList"`
	Inventory  int `json:"inventory"`
	Catalog    int `json:"catalog"`
}

// CurrentFormats returns the format versions this stella writes and reads.
func CurrentFormats() Formats {
	return Formats{Manifest: bundle.SchemaVersion, ArtifactType: bundle.ArtifactVersion, VolumeList: bundle.VolumeListVersion,
		Inventory: bundle.InventoryVersion, Catalog: bundle.CatalogVersion}
}
