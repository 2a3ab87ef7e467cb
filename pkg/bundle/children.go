package bundle

import (
	"encoding/json"
	"fmt"

	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/stellaops/mirror/pkg/errdef"
)

// Children returns what a manifest or index points to: an index's
// manifests, a manifest's config and layers. A subject is not a child.
// An index entry that is no manifest or index is refused.
func Children(desc ocispec.Descriptor, data []byte) ([]ocispec.Descriptor, error) {
	return children(desc, data, false)
}

// ListedManifests is Children of an index, leaving out the entries that
// are no manifest or index rather than refusing them: a search of the
// index for one platform's manifest ignores them, as OCI has clients
// ignore an entry of a media type they do not know.
func ListedManifests(desc ocispec.Descriptor, data []byte) ([]ocispec.Descriptor, error) {
	return children(desc, data, true)
}

func children(desc ocispec.Descriptor, data []byte, skipOthers bool) ([]ocispec.Descriptor, error) {
	var doc struct {
		MediaType string               `json:"mediaType"`
		Manifests []ocispec.Descriptor `json:"manifests"`
		Config    *ocispec.Descriptor  `json:"config"`
		Layers    []ocispec.Descriptor `json:"layers"`
	}
	if err := json.Unmarshal(data, &doc); err != nil {
		return nil, fmt.Errorf("%s: %v: %w", desc.Digest, err, errdef.ErrMalformed)
	}
	if doc.MediaType != "" && doc.MediaType != desc.MediaType {
		return nil, fmt.Errorf("%s: document says media type %q, descriptor says %q: %w", desc.Digest, doc.MediaType, desc.MediaType, errdef.ErrMalformed)
	}
	var out []ocispec.Descriptor
	if IsIndexMediaType(desc.MediaType) {
		if doc.Config != nil || len(doc.Layers) > 0 {
			return nil, fmt.Errorf("%s: index has config or layers: %w", desc.Digest, errdef.ErrMalformed)
		}
		// An index lists manifests: a registry takes one only when it
		// holds each entry as a manifest, and an entry of another type
		// would be carried, and pushed, as a blob.
		for _, c := range doc.Manifests {
			if IsManifestMediaType(c.MediaType) {
				out = append(out, c)
			} else if !skipOthers {
				return nil, &EntryError{Index: desc.Digest, Entry: c.Digest, MediaType: c.MediaType}
			}
		}
	} else {
		if doc.Config == nil || len(doc.Manifests) > 0 {
			return nil, fmt.Errorf("%s: manifest has no config, or has manifests: %w", desc.Digest, errdef.ErrMalformed)
		}
		out = append([]ocispec.Descriptor{*doc.Config}, doc.Layers...)
		// A config and a layer are blobs: one that claims a manifest's
		// or an index's media type would be asked for as a manifest,
		// which no registry holds under its digest ("not found").
		for i, c := range out {
			if IsManifestMediaType(c.MediaType) {
				what := "layer"
				if i == 0 {
					what = "config"
				}
				return nil, fmt.Errorf("%s: its %s %s claims media type %q, a manifest's: a %s is a blob: %w", desc.Digest, what, c.Digest, c.MediaType, what, errdef.ErrMalformed)
			}
		}
	}
	for _, c := range out {
		if c.Digest.Validate() != nil || c.Digest.Algorithm() != digest.SHA256 {
			return nil, fmt.Errorf("%s: child digest %q is not a valid sha256 digest: %w", desc.Digest, c.Digest, errdef.ErrMalformed)
		}
		if c.Size < 0 {
			return nil, fmt.Errorf("%s: child %s has negative size: %w", desc.Digest, c.Digest, errdef.ErrMalformed)
		}
	}
	return out, nil
}

// EntryError is Children's refusal of an index, Index, listing Entry of
// MediaType, which is no image manifest or index (errdef.ErrMalformed).
type EntryError struct {
	Index     digest.Digest
	Entry     digest.Digest
	MediaType string
	// Pinned, set by a caller whose message names Index already (an
	// image's reference pinned by its digest: PinnedOnce), has Index
	// called "the pinned index" rather than named a second time.
	Pinned bool
}

func (e *EntryError) Error() string {
	index := e.Index.String() + ": index"
	if e.Pinned {
		index = "the pinned index"
	}
	return fmt.Sprintf("%s lists %s of media type %q, not an image manifest or index: a registry takes an index only when it holds each entry as a manifest%s: %v",
		index, e.Entry, e.MediaType, withdrawn(e.MediaType), errdef.ErrMalformed)
}

func (e *EntryError) Unwrap() error { return errdef.ErrMalformed }

// withdrawn says why an OCI artifact manifest is no manifest here.
func withdrawn(mt string) string {
	if mt != MediaTypeArtifactManifest {
		return ""
	}
	return " (OCI 1.1 withdrew the artifact manifest: push the artifact as an image manifest with an artifactType, as oras 1.0 and later do)"
}

// SubjectOf returns the subject digest a manifest names, or "".
func SubjectOf(data []byte) digest.Digest {
	var doc struct {
		Subject *ocispec.Descriptor `json:"subject"`
	}
	if json.Unmarshal(data, &doc) != nil || doc.Subject == nil {
		return ""
	}
	return doc.Subject.Digest
}
