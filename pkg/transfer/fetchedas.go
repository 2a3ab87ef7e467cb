package transfer

import (
	"reflect"
	"slices"

	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	"oras.land/oras-go/v2/content"
	oremote "oras.land/oras-go/v2/registry/remote"

	"github.com/stellaops/mirror/pkg/bundle"
)

// FetchedAs names what a fetch of desc from src reads, as its errors say
// it: "manifest" where src asks a registry's /manifests/ for it (a
// repository's manifest store; a repository, which sends there the media
// types it takes for manifests, an OCI artifact manifest's among them),
// whatever desc's media type, even none; "blob" where it asks /blobs/.
// A fetcher that wraps another says so with a FetchedAs method of its
// own; any other (a bundle's files) is named by desc's media type.
func FetchedAs(src content.Fetcher, desc ocispec.Descriptor) string {
	switch s := src.(type) {
	case interface {
		FetchedAs(ocispec.Descriptor) string
	}:
		return s.FetchedAs(desc)
	case *oremote.Repository:
		types := s.ManifestMediaTypes
		if len(types) == 0 {
			types = orasManifestMediaTypes
		}
		if slices.Contains(types, desc.MediaType) { // as oras-go routes it
			return "manifest"
		}
		return "blob"
	}
	switch reflect.TypeOf(src) {
	case manifestStoreType:
		return "manifest"
	case blobStoreType:
		return "blob"
	}
	if bundle.IsManifestMediaType(desc.MediaType) {
		return "manifest"
	}
	return "blob"
}

// orasManifestMediaTypes are the media types an oras-go repository with no
// ManifestMediaTypes of its own fetches from /manifests/.
var orasManifestMediaTypes = []string{
	"application/vnd.docker.distribution.manifest.v2+json",
	"application/vnd.docker.distribution.manifest.list.v2+json",
	ocispec.MediaTypeImageManifest,
	ocispec.MediaTypeImageIndex,
	"application/vnd.oci.artifact.manifest.v1+json",
}

// The types of an oras-go repository's manifest and blob stores, which
// it does not export.
var (
	manifestStoreType = reflect.TypeOf((&oremote.Repository{}).Manifests())
	blobStoreType     = reflect.TypeOf((&oremote.Repository{}).Blobs())
)
