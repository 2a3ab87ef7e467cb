package bundle

// Media and artifact types of a bundle's parts (DESIGN.md, "The bundle").
const (
	// ArtifactTypeBundle is the artifactType of a bundle's root index.
	ArtifactTypeBundle = "application/vnd.stellaops.mirror.bundle.v1+json"
	// ArtifactTypeMetadata is the artifactType of the metadata manifest whose
	// layers are manifest.json, the advisories, scripts and docs.
	ArtifactTypeMetadata = "application/vnd.stellaops.mirror.metadata.v1+json"
	// MediaTypeManifestJSON is the layer media type of manifest.json.
	MediaTypeManifestJSON = "application/vnd.stellaops.mirror.manifest.v1+json"
	// MediaTypeAdvisoryGzip is the layer media type of a gzip'd JSON advisory.
	MediaTypeAdvisoryGzip = "application/vnd.stellaops.advisory.v1+gzip"
	// MediaTypeAdvisoryJSON is the layer media type of a plain JSON advisory.
	MediaTypeAdvisoryJSON = "application/vnd.stellaops.advisory.v1+json"
	// MediaTypeShellScript is the layer media type of scripts/*.sh.
	MediaTypeShellScript = "text/x-shellscript"
	// MediaTypeMarkdown is the layer media type of docs/*.md.
	MediaTypeMarkdown = "text/markdown"

	// ArtifactTypeDSSE is the artifactType of the signature referrer and the
	// media type of its single layer, the DSSE envelope.
	ArtifactTypeDSSE = "application/vnd.dsse.envelope.v1+json"
	// PayloadType is the DSSE payloadType of a signed manifest.json (plan §2.3).
	PayloadType = "application/vnd.stellaops.mirror-bundle+json"
)

// Annotation keys written on a bundle's root index and its children.
const (
	// AnnotationGeneration holds the decimal mirrorGeneration on the root.
	AnnotationGeneration = "org.stellaops.mirror.generation"
	// AnnotationBundleID holds manifest.json's bundleId on the root.
	AnnotationBundleID = "org.stellaops.mirror.bundle-id"
	// AnnotationChannel holds the release channel on the root.
	AnnotationChannel = "org.stellaops.mirror.channel"
	// AnnotationRole marks each child of the root: RoleMetadata, RoleImage or
	// RoleReferrer.
	AnnotationRole = "org.stellaops.mirror.role"
	// AnnotationRepository names an image child's target repository.
	AnnotationRepository = "org.stellaops.mirror.repository"
)

// Roles of the root index's children (AnnotationRole).
const (
	RoleMetadata = "metadata"
	RoleImage    = "image"
	RoleReferrer = "referrer"
)

// Bounds that apply to every bundle, whatever its source. A bundle is hostile
// input until its signature verifies, and even then a signer's mistake must not
// exhaust the importer.
const (
	// MaxManifestSize bounds every manifest, index, manifest.json, envelope and
	// other metadata document read into memory (DESIGN.md trust rules).
	MaxManifestSize = 4 << 20
	// MaxManifestJSONSize bounds the manifest.json create writes: signed,
	// its envelope (base64 adds a third, then the signatures) must still
	// be within MaxManifestSize, or no reader would take it. It grows by
	// about 900 bytes an image and 265 an advisory file.
	MaxManifestJSONSize = 3<<20 - 256<<10
	// MaxDepth bounds how deep indexes may nest below an image.
	MaxDepth = 8
	// MaxImages bounds how many images one bundle create writes may name:
	// as many as manifest.json's bound (MaxManifestJSONSize) holds at the
	// least an entry takes (leanImageEntry), so that a release over it is
	// refused from its count alone, before any request, and a release of
	// lean images can reach it. A release of fewer images that carry more
	// (platforms, signatures, SBOMs) is refused by manifest.json's bytes:
	// from the release file alone where its names pass the bound, else
	// once its manifests are read, before any blob is fetched.
	MaxImages = MaxManifestJSONSize / leanImageEntry
	// leanImageEntry is the least manifest.json takes for an image that
	// create writes: one platform, no referrer, one tag, names of a few
	// characters (about 425 bytes). A two-platform image with a cosign
	// signature takes some 950, a four-platform one with a signature and
	// an SBOM under long names 1,450: each platform adds about 20 bytes,
	// each referrer 300.
	leanImageEntry = 432
	// MaxReadImages bounds how many images a bundle may name for readers
	// (import, verify, serve, …) to take it: the limit before MaxImages
	// was lowered to what a signed manifest.json holds, so that a bundle
	// an earlier create wrote, within manifest.json's own bound, still
	// imports. manifest.json's bytes bound what a reader holds either way.
	MaxReadImages = 10000
)

// Docker media types that images in the wild still use; bundles keep them
// byte for byte.
const (
	MediaTypeDockerManifest     = "application/vnd.docker.distribution.manifest.v2+json"
	MediaTypeDockerManifestList = "application/vnd.docker.distribution.manifest.list.v2+json"

	// Docker's schema 1 manifests, unsigned and signed (JWS): deprecated
	// since 2015 and refused by OCI registries. Their digest covers a JWS
	// that a registry re-signs, so they cannot be carried unchanged.
	MediaTypeDockerSchema1       = "application/vnd.docker.distribution.manifest.v1+json"
	MediaTypeDockerSchema1Signed = "application/vnd.docker.distribution.manifest.v1+prettyjws"
)

// MediaTypeArtifactManifest is the OCI artifact manifest of the OCI 1.1
// release candidates, withdrawn from 1.1 itself: registries and bundles
// carry artifacts as image manifests with an artifactType.
const MediaTypeArtifactManifest = "application/vnd.oci.artifact.manifest.v1+json"

// IsDockerSchema1 reports whether mt is a Docker schema 1 manifest.
func IsDockerSchema1(mt string) bool {
	return mt == MediaTypeDockerSchema1 || mt == MediaTypeDockerSchema1Signed
}

// IsManifestMediaType reports whether mt is an OCI or Docker image manifest
// or index media type.
func IsManifestMediaType(mt string) bool {
	return IsIndexMediaType(mt) || mt == "application/vnd.oci.image.manifest.v1+json" || mt == MediaTypeDockerManifest
}

// IsIndexMediaType reports whether mt is an OCI image index or Docker
// manifest list.
func IsIndexMediaType(mt string) bool {
	return mt == "application/vnd.oci.image.index.v1+json" || mt == MediaTypeDockerManifestList
}

// IsNonDistributable reports whether mt is a layer media type that a
// registry need not serve (Docker's foreign layers, OCI's deprecated
// non-distributable layers): clients fetch it from the descriptor's urls,
// which an air-gapped network cannot reach. Bundles carry such a layer's
// bytes like any other's.
func IsNonDistributable(mt string) bool {
	switch mt {
	case "application/vnd.docker.image.rootfs.foreign.diff.tar.gzip",
		"application/vnd.oci.image.layer.nondistributable.v1.tar",
		"application/vnd.oci.image.layer.nondistributable.v1.tar+gzip",
		"application/vnd.oci.image.layer.nondistributable.v1.tar+zstd":
		return true
	}
	return false
}
