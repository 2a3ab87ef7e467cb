package mirror

import (
	"context"
	"fmt"
	"log/slog"
	"math"
	"strings"

	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/stellaops/mirror/pkg/bundle"
	"github.com/stellaops/mirror/pkg/errdef"
	"github.com/stellaops/mirror/pkg/layout"
	"github.com/stellaops/mirror/pkg/remote"
)

// baseInfo is what a delta bundle needs to know of its base: who it is, and
// which blobs the far side holds once it has imported it.
type baseInfo struct {
	base bundle.Base
	held map[digest.Digest]bool
}

// loadBase reads the base of a delta: a previous bundle (directory, tar or
// registry reference), whose whole graph the far side holds after importing
// it, or an inventory of the far side's registry (a .json file other than
// a split archive's volume list).
func loadBase(ctx context.Context, client *remote.Client, ref string, trust TrustOptions, log *slog.Logger) (*baseInfo, error) {
	if isInventoryBase(ref) {
		bi, err := loadInventoryBase(ctx, ref, trust)
		if err != nil {
			return nil, err
		}
		if err := bi.checkFollowable(ref, "its newest bundle"); err != nil {
			return nil, err
		}
		return bi, nil
	}
	if err := checkBaseTrust(ref, trust); err != nil {
		return nil, err
	}
	if err := trust.refuseCarried(ref); err != nil {
		return nil, err
	}
	src, err := openAnySource(ctx, client, ref, trust, readSigning, log)
	if err != nil {
		return nil, fmt.Errorf("--base %s: %w", ref, err)
	}
	defer src.close()
	if _, err := verifyBundleSignature(ctx, src.file, trust); err != nil {
		return nil, fmt.Errorf("--base %s: %w", ref, err)
	}
	md, err := src.metadata(ctx)
	if err != nil {
		return nil, fmt.Errorf("--base %s: %w", ref, err)
	}
	if err := md.checkStructure(ctx); err != nil {
		return nil, fmt.Errorf("--base %s: %w", ref, err)
	}
	held, err := baseBlobs(ctx, md)
	if err != nil {
		return nil, fmt.Errorf("--base %s: %w", ref, err)
	}
	bi := &baseInfo{
		base: bundle.Base{BundleID: md.Manifest.BundleID, Root: md.RootDesc.Digest, Generation: md.Manifest.MirrorGeneration},
		held: held,
	}
	if err := bi.checkFollowable(ref, "bundle"); err != nil {
		return nil, err
	}
	return bi, nil
}

// isInventoryBase reports whether ref names an inventory (a .json file)
// rather than a bundle. The list of a split archive's volumes
// (FILE.volumes.json) is a bundle, as import reads it: taken for an
// inventory, it was refused as one with no signature beside it (exit 5).
func isInventoryBase(ref string) bool {
	return strings.HasSuffix(ref, ".json") && !layout.IsVolumeList(ref)
}

// baseBlobs are the digests of every blob of a verified base bundle (not
// its manifests): what the far side holds once it imported it. The base is
// read while every image of the new release is held, resolved, so nothing
// of it is kept but these digests: one walk from the root reads each
// document once, and keeps neither it nor its children once walked (a
// placement of the base, as import makes, held every descriptor and the
// repositories of each blob: more than the images themselves).
func baseBlobs(ctx context.Context, md *metadata) (map[digest.Digest]bool, error) {
	held := map[digest.Digest]bool{}
	err := visitGraph(ctx, md.RootDesc, newGraphWalker(md.Doc), func(d ocispec.Descriptor) { held[d.Digest] = true }, nil)
	// A manifest the verified bundle names and its source lacks is
	// content lost (exit 2), as verify says.
	return held, missingIsMismatch(err)
}

// checkBaseTrust refuses a base nobody is trusted to have signed. The
// base sets the signed delta's generation and which blobs it leaves out:
// a base whose generation someone raised (a moved tag, a directory or an
// inventory rewritten) would have the signer sign a delta that the far
// side imports over its real base, every later bundle then refused as
// older. So a base is read only when its signer's key verifies it: a
// bundle's (--base-key, --base-trust-root), or the far side's for an
// inventory.
func checkBaseTrust(ref string, trust TrustOptions) error {
	if !trust.Empty() {
		return nil
	}
	if isInventoryBase(ref) {
		return fmt.Errorf("--base %s: an inventory is read only with --base-key, the far side's key that signed it (inventory --key): %w", ref, errdef.ErrUsage)
	}
	return fmt.Errorf("--base %s: a base bundle is read only with --base-key, the key that signed it (or --base-trust-root): %w", ref, errdef.ErrUsage)
}

// checkFollowable refuses a base that no delta can follow: a delta's
// generation is its base's plus one, which past the largest int64 wraps
// to a negative one. Such a base is signed and well formed (create takes
// --generation 9223372036854775807), so the refusal names the base ref
// and its generation, and is the generation's (exit 8): nothing the far
// side can import over it is newer. what says which bundle of ref it is.
func (bi *baseInfo) checkFollowable(ref, what string) error {
	if bi.base.Generation == math.MaxInt64 {
		return fmt.Errorf("--base %s: %s %s has generation %d, the largest there is, so no delta on it can be newer: %w",
			ref, what, bi.base.BundleID, bi.base.Generation, errdef.ErrGeneration)
	}
	return nil
}

// omit decides which blobs of the new bundle the base covers: the image
// blobs, advisories and files it holds. The empty config and manifest.json
// are always carried.
func (bi *baseInfo) omit(d ocispec.Descriptor) bool {
	return bi != nil && bi.held[d.Digest] && d.Digest != bundle.EmptyConfig.Digest
}

// manifestBase is the base as manifest.json records it, with the sorted
// list of what was omitted.
func (bi *baseInfo) manifestBase(omitted map[digest.Digest]bool) *bundle.Base {
	b := bi.base
	b.Omitted = []digest.Digest{}
	for d := range omitted {
		b.Omitted = append(b.Omitted, d)
	}
	sortDigests(b.Omitted)
	return &b
}

func checkBaseGeneration(bi *baseInfo, generation int64) error {
	if generation <= bi.base.Generation {
		return fmt.Errorf("--generation %d is not newer than the base's %d: %w", generation, bi.base.Generation, errdef.ErrUsage)
	}
	return nil
}
