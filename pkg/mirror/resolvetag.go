package mirror

import (
	"context"
	"errors"
	"net/url"

	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	oremote "oras.land/oras-go/v2/registry/remote"
	"oras.land/oras-go/v2/registry/remote/errcode"

	"github.com/stellaops/mirror/pkg/bundle"
)

// resolveTag returns the descriptor of the manifest tag names in r: by
// HEAD, or, where the registry's HEAD answer does not say its digest (no
// Docker-Content-Digest, which the distribution spec leaves optional, and
// some registries and fronts drop), by GET, the digest of the bytes
// served (bounded as a manifest: bundle.MaxManifestSize). Where the HEAD
// answer names no digest a tag cannot be resolved by it at all: a
// re-run's cosign tags failed, and so did every tag's read-back after its
// write. A HEAD the registry refused (an error response, not found) or
// that did not reach it is not asked again.
func resolveTag(ctx context.Context, r *oremote.Repository, tag string) (ocispec.Descriptor, error) {
	desc, err := r.Manifests().Resolve(ctx, tag)
	var resp *errcode.ErrorResponse
	var transport *url.Error
	if err == nil || ctx.Err() != nil || isNotFound(err) || errors.As(err, &resp) || errors.As(err, &transport) {
		return desc, err
	}
	got, rc, gerr := r.Manifests().FetchReference(ctx, tag)
	if gerr != nil {
		return ocispec.Descriptor{}, gerr
	}
	defer rc.Close()
	// Read whole: the digest oras took from the header, or computed from
	// the body where there was none, is checked against the bytes.
	if _, err := bundle.ReadAll(rc, got, bundle.MaxManifestSize); err != nil {
		return ocispec.Descriptor{}, err
	}
	return got, nil
}
