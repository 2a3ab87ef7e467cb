package mirror

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"time"

	"oras.land/oras-go/v2/registry"

	"github.com/stellaops/mirror/pkg/errdef"
	"github.com/stellaops/mirror/pkg/keys"
	"github.com/stellaops/mirror/pkg/layout"
	"github.com/stellaops/mirror/pkg/remote"
	"github.com/stellaops/mirror/pkg/transfer"
)

// PushOptions say which bundle to push where.
type PushOptions struct {
	// Source is a bundle directory or tar. Required.
	Source string
	// Reference is host/repository[:tag]; the tag defaults to the release
	// version. Required.
	Reference string
	// Trust, if not empty, must accept the bundle's signature before
	// anything is pushed; empty pushes a bundle whose structure checks,
	// signed or not (the far side verifies on import).
	Trust TrustOptions
	// AllowExpired pushes a bundle past its expiresAt; AllowRollback one
	// older than the one the repository holds (as import's). Now is the
	// clock (zero: the time).
	AllowExpired, AllowRollback bool
	Now                         time.Time
	// CatalogKey, if set, re-signs the repository's catalog once the push
	// is complete.
	CatalogKey      string
	CatalogPassword keys.PassFunc
	// Client reaches the registry. Required.
	Client *remote.Client
	// Transfer sets concurrency, retries and progress.
	Transfer transfer.Options
	// Logger receives progress logs; nil discards them.
	Logger *slog.Logger
}

// Push places a whole bundle in one repository of any OCI registry: the
// root (tagged), everything below it (metadata, images, image referrers),
// its DSSE signature and files referrers. Blobs are sent once, skipped
// where present; manifests go children first and the tag last.
func Push(ctx context.Context, opts PushOptions) (_ *PlaceResult, err error) {
	start := time.Now()
	if err := opts.Trust.Check(); err != nil {
		return nil, err
	}
	ref, err := parseTarget(opts.Reference)
	if err != nil {
		return nil, err
	}
	src, err := openSource(ctx, opts.Source, opts.Logger)
	if err != nil {
		return nil, err
	}
	defer src.close()
	defer func() { err = src.volumeAtFault(err) }()
	acc := acceptance{trust: opts.Trust, allowExpired: opts.AllowExpired, allowRollback: opts.AllowRollback, now: opts.Now, verb: "push"}
	if st, err := os.Stat(opts.Source); err == nil && st.IsDir() {
		// Its carried files (SHA256SUMS, its signature) go up as they are.
		acc.check = func(ctx context.Context) error {
			dir, err := layout.Open(opts.Source)
			if err != nil {
				return err
			}
			defer dir.Close()
			return checkSigningFinished(ctx, dir)
		}
	}
	res, err := placeBundle(ctx, src, ref, placementOptions{bundleRepo: ref.Repository, bundleTag: ref.Reference}, acc, opts.Client, opts.Transfer, opts.Logger, start, "")
	if err != nil {
		return nil, err
	}
	tgt := newTarget(ref.Registry, opts.Client, opts.Transfer)
	return res, refreshCatalog(ctx, tgt, ref.Repository, opts.CatalogKey, opts.CatalogPassword, opts.Trust, logger(opts.Logger))
}

// parseTarget parses host/repository[:tag]; a digest is refused, since a
// push names where the bundle goes, not what it is.
func parseTarget(s string) (registry.Reference, error) {
	if err := refuseScheme(s); err != nil {
		return registry.Reference{}, err
	}
	ref, err := registry.ParseReference(s)
	if err != nil {
		return ref, fmt.Errorf("reference %q: %v: %w", s, err, errdef.ErrUsage)
	}
	if _, derr := ref.Digest(); derr == nil {
		return ref, fmt.Errorf("reference %q: give a tag (or none), not a digest: %w", s, errdef.ErrUsage)
	}
	return ref, nil
}

// acceptance is what push and sync require of a bundle before they write
// any of it.
type acceptance struct {
	// trust, if not empty, must accept the signature.
	trust TrustOptions
	// allowExpired and allowRollback accept a bundle past its expiry, or
	// older than the one the destination repository holds.
	allowExpired, allowRollback bool
	now                         time.Time
	verb                        string // for the errors: push, sync
	// check, if set, is the source's own last check, once the bundle
	// passed the others.
	check func(context.Context) error
	// ahead, if set, is the first generation check's read of the target,
	// started while the source was read (sync).
	ahead *generationAhead
}

// placeBundle verifies (when trust is given) and checks a source, then
// places it in the registry ref names.
func placeBundle(ctx context.Context, src *source, ref registry.Reference, po placementOptions, acc acceptance,
	client *remote.Client, topts transfer.Options, log *slog.Logger, start time.Time, mountFrom string) (*PlaceResult, error) {
	log = logger(log)
	if client == nil {
		return nil, fmt.Errorf("no registry client: %w", errdef.ErrUsage)
	}
	if !acc.trust.Empty() {
		if _, err := src.verifySignature(ctx, acc.trust); err != nil {
			return nil, err
		}
	}
	md, err := src.metadata(ctx)
	if err != nil {
		return nil, err
	}
	if err := src.checkStructure(ctx, md); err != nil {
		return nil, err
	}
	if err := checkExpiry(md.Manifest, acc.now, acc.allowExpired, acc.verb); err != nil {
		return nil, err
	}
	if acc.check != nil {
		if err := acc.check(ctx); err != nil {
			return nil, err
		}
	}
	tgt := newTarget(ref.Registry, client, topts)
	if acc.ahead != nil {
		tgt = acc.ahead.tgt
	}
	tag := firstNonEmpty(po.bundleTag, md.Manifest.Release.Version)
	checkTo := func(ctx context.Context, log *slog.Logger) error {
		return checkGeneration(ctx, tgt, po.bundleRepo, tag, md, acc, log)
	}
	recheck := func(ctx context.Context) error { return checkTo(ctx, log) }
	first := checkTo
	if acc.ahead != nil {
		// Read while the source was (sync): judged now that the bundle
		// is verified and checked.
		first = func(ctx context.Context, log *slog.Logger) error {
			held, ok, err := acc.ahead.result(ctx, tag)
			switch {
			case !ok:
				return checkTo(ctx, log)
			case err != nil:
				return err
			}
			return judgeGeneration(tgt, po.bundleRepo, held, md, acc)
		}
	}
	// The target's bundles are read (checkGeneration) while the source's
	// documents are, and while the placement asks what the target holds:
	// the chains of round trips go side by side, not one after the
	// other. Nothing is written before the check passes.
	check, wctx := startCheck(ctx, log, first)
	src.prefetchDocs(ctx, md)
	if !src.layout {
		po.registry = src.name
	}
	plan, err := planPlacement(ctx, md, po)
	if err == nil {
		err = src.checkNoStrays(ctx, plan, md.Manifest)
	}
	if err != nil {
		return nil, check.abandon(err)
	}
	src.placing = true
	if acc.ahead != nil {
		acc.ahead.tell(ctx, tag)
	}
	check.tell(ctx)
	check.letGoFirst(wctx, tgt)
	if err := checkDeltaBase(wctx, tgt, md, plan, concurrency(topts.Concurrency)); err != nil {
		return nil, check.settle(err)
	}
	pl := &placer{plan: plan, tgt: tgt, src: src, md: md, log: log, mountFrom: mountFrom, recheck: recheck, writes: check.gate}
	if err := check.settle(pl.run(wctx, concurrency(topts.Concurrency))); err != nil {
		return nil, err
	}
	res := pl.result(po.bundleRepo, start, po.mapImages, po.prefix)
	log.Info("placed", "registry", ref.Registry, "repository", po.bundleRepo, "root", res.Root, "referrers", res.ReferrersMode)
	return res, nil
}
