package mirror

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"

	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	oremote "oras.land/oras-go/v2/registry/remote"

	"github.com/stellaops/mirror/pkg/bundle"
	"github.com/stellaops/mirror/pkg/errdef"
	"github.com/stellaops/mirror/pkg/remote"
	"github.com/stellaops/mirror/pkg/transfer"
)

// referrerWalkError is err of the walk of an image's referrers in repo
// (named name) as the operator can act on it: a referrer listed that the
// registry does not hold is named with the listing at fault, the
// sha256-<hex> fallback tag where that lists it (a referrer deleted by its
// digest, which leaves the tag as it was), and what to do. It stays an
// error: a signature that is gone may be the one that matters.
func referrerWalkError(ctx context.Context, repo *oremote.Repository, name string, err error) error {
	var missing *transfer.MissingReferrerError
	if !errors.As(err, &missing) {
		return remote.Classify(err)
	}
	const remedy = "push the referrer again, or write the tag again without it (deleting the tag drops every referrer it lists: sign and attach those again), or leave referrers out with --no-referrers"
	tag := bundle.CosignTag(missing.Subject, "")
	if fallbackLists(ctx, repo, tag, missing.Referrer) {
		return fmt.Errorf("%s:%s (the referrers fallback tag) lists %s, which the registry does not hold: a referrer deleted with its tag left as it was: %s: %w",
			name, tag, missing.Referrer, remedy, errdef.ErrNotFound)
	}
	return fmt.Errorf("%s: the registry lists %s as a referrer of %s but does not hold it (a referrer deleted while still listed): push it again, or leave referrers out with --no-referrers: %w",
		name, missing.Referrer, missing.Subject, errdef.ErrNotFound)
}

// fallbackLists says whether the index tagged tag in repo lists dg.
func fallbackLists(ctx context.Context, repo *oremote.Repository, tag string, dg digest.Digest) bool {
	desc, err := repo.Resolve(ctx, tag)
	if err != nil || desc.MediaType != ocispec.MediaTypeImageIndex {
		return false
	}
	data, err := transfer.FetchBytes(ctx, repo, desc) // bounded, verified
	if err != nil {
		return false
	}
	var idx ocispec.Index
	if json.Unmarshal(data, &idx) != nil {
		return false
	}
	return slices.ContainsFunc(idx.Manifests, func(d ocispec.Descriptor) bool { return d.Digest == dg })
}
