package mirror

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"oras.land/oras-go/v2/registry"

	"github.com/stellaops/mirror/pkg/errdef"
	"github.com/stellaops/mirror/pkg/remote"
	"github.com/stellaops/mirror/pkg/transfer"
)

// SyncOptions say which bundle to copy from one registry to another.
type SyncOptions struct {
	// Source is host/repository:tag or @digest of a bundle root. Required.
	Source string
	// Destination is host/repository[:tag]; the tag defaults to the
	// release version. Required.
	Destination string
	// Trust, if not empty, must accept the signature before anything is
	// written.
	Trust TrustOptions
	// AllowExpired copies a bundle past its expiresAt; AllowRollback one
	// older than the one the destination repository holds (as import's).
	// Now is the clock (zero: the time).
	AllowExpired, AllowRollback bool
	Now                         time.Time
	// Images also places every image under its mapped name at the
	// destination registry, as import does, under RepoPrefix.
	Images     bool
	RepoPrefix string
	// Client reaches both registries. Required.
	Client *remote.Client
	// Transfer sets concurrency, retries and progress.
	Transfer transfer.Options
	// Logger receives progress logs; nil discards them.
	Logger *slog.Logger
}

// Sync copies a bundle from a registry to a registry with no local
// staging: blobs stream from one to the other (or are mounted when both
// repositories are in the same registry), referrers follow whichever way
// each side supports them. Re-running an interrupted sync completes it.
func Sync(ctx context.Context, opts SyncOptions) (*PlaceResult, error) {
	start := time.Now()
	if err := opts.Trust.Check(); err != nil {
		return nil, err
	}
	if err := checkRepoPrefix(opts.RepoPrefix); err != nil {
		return nil, err
	}
	if opts.RepoPrefix != "" && !opts.Images {
		return nil, fmt.Errorf("--repo-prefix %q places the images, which sync places only with --images (without it, the bundle alone goes to the destination): %w", withoutAt(opts.RepoPrefix), errdef.ErrUsage)
	}
	dst, err := parseTarget(opts.Destination)
	if err != nil {
		return nil, err
	}
	// The destination's bundles are read for the generation check while
	// the source's metadata and signing are, once the source's root is in
	// (the version it names is the tag, unless the destination names
	// one). Not before the source's first answer: a registry's first
	// request goes alone, and the source and destination may be one
	// registry.
	ahead := newGenerationAhead(ctx, newTarget(dst.Registry, opts.Client, opts.Transfer), dst.Repository, opts.Trust, opts.Logger)
	defer ahead.stop()
	versionRead := func(version string) { ahead.start(firstNonEmpty(dst.Reference, version)) }
	src, err := openRegistrySource(ctx, opts.Client, opts.Source, opts.Trust, readCarry, versionRead, opts.Logger)
	if err != nil {
		return nil, err
	}
	defer src.close()
	mountFrom := ""
	if from, err := registry.ParseReference(opts.Source); err == nil && from.Registry == dst.Registry && from.Repository != dst.Repository {
		mountFrom = from.Repository
	}
	po := placementOptions{bundleRepo: dst.Repository, bundleTag: dst.Reference, mapImages: opts.Images, prefix: opts.RepoPrefix}
	acc := acceptance{trust: opts.Trust, allowExpired: opts.AllowExpired, allowRollback: opts.AllowRollback, now: opts.Now, verb: "sync", ahead: ahead}
	return placeBundle(ctx, src, dst, po, acc, opts.Client, opts.Transfer, opts.Logger, start, mountFrom)
}
