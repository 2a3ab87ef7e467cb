package mirror

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"slices"
	"time"

	"github.com/opencontainers/go-digest"

	"github.com/stellaops/mirror/pkg/bundle"
	"github.com/stellaops/mirror/pkg/errdef"
	"github.com/stellaops/mirror/pkg/keys"
	"github.com/stellaops/mirror/pkg/remote"
	"github.com/stellaops/mirror/pkg/transfer"
)

// ImportOptions say what to import where. Zero values are documented per
// field.
type ImportOptions struct {
	// Source is a bundle tar (.tar, .tar.gz, .tar.zst), a bundle
	// directory, or a bundle in a registry (host/repo:tag or @digest).
	// Required.
	Source string
	// Registry is the target registry, host[:port]. Required.
	Registry string
	// Trust says whose signatures are accepted. Required: the zero value
	// trusts nobody, so nothing imports.
	Trust TrustOptions
	// AdvisoriesDir, if set, receives the advisories (advisories/x.json.gz
	// is written as AdvisoriesDir/x.json.gz), each whole or not at all,
	// and only once the import is complete: a failed import writes none.
	// A file already holding the same bytes is left as it is. The import
	// records what it wrote there (AdvisoryRecordName); an advisory the
	// previous import wrote and this bundle no longer lists (withdrawn) is
	// removed if its bytes are still those recorded, else left and named.
	// A bundle that lists no advisories leaves the directory as it was.
	// Empty leaves the advisories only in the bundle repository, with a
	// warning.
	AdvisoriesDir string
	// KeepWithdrawn leaves the advisories this bundle withdrew in
	// AdvisoriesDir (reported, and still recorded, so a later import
	// without it removes them); false removes them.
	KeepWithdrawn bool
	// RepoPrefix is put before every image's repository on the target.
	RepoPrefix string
	// BundleRepo is where the bundle itself goes; empty means
	// bundle.DefaultBundleRepository.
	BundleRepo string
	// SourcePlainHTTP says plain HTTP was asked for the registry of Source
	// (--from-plain-http): a Source that is a FILE or DIR, read from disk,
	// has none, and is refused (errdef.ErrUsage) rather than the flag
	// ignored.
	SourcePlainHTTP bool
	// AllowExpired imports a bundle past its expiresAt.
	AllowExpired bool
	// AllowRollback imports a bundle older than the one the target holds.
	AllowRollback bool
	// Now is the time expiry is checked against; zero means the clock.
	Now time.Time
	// CatalogKey, if set, re-signs the bundle repository's catalog (tag
	// "catalog") once the import is complete, so it lists this bundle.
	CatalogKey      string
	CatalogPassword keys.PassFunc
	// Client reaches the target registry. Required.
	Client *remote.Client
	// Transfer sets concurrency, retries and progress.
	Transfer transfer.Options
	// Logger receives progress logs; nil discards them.
	Logger *slog.Logger
}

// PlaceResult says what an import, push or sync did.
type PlaceResult struct {
	Registry         string `json:"registry"`
	BundleRepository string `json:"bundleRepository"`
	// BundleTag is the tag the bundle root was given in BundleRepository:
	// the destination reference's of push and sync, else the release
	// version.
	BundleTag  string          `json:"bundleTag"`
	Root       digest.Digest   `json:"root"`
	Version    string          `json:"version"`
	Generation int64           `json:"mirrorGeneration"`
	Images     []ImportedImage `json:"images"`
	// Tags counts the tags written; TagsInPlace those that already named
	// the manifest the bundle puts under them, left as they were (a
	// re-run writes none of them: a registry in read-only mode takes it).
	Tags        int64 `json:"tags"`
	TagsInPlace int64 `json:"tagsInPlace"`
	// KeptTags are cosign tags (host/repo:sha256-<hex>.sig, .att, .sbom)
	// that already named another manifest in the target, one that no
	// bundle in the bundle repository carried, left as they were: the far
	// side may have added its own signatures there.
	KeptTags  []string       `json:"keptTags,omitempty"`
	Blobs     BlobCounts     `json:"blobs"`
	Manifests ManifestCounts `json:"manifests"`
	// Advisories are the bundle's advisory files in the advisories
	// directory (DIR/x.json): written, or already holding the same bytes.
	Advisories []string `json:"advisories,omitempty"`
	// AdvisoriesInPlace counts those of Advisories that already held the
	// same bytes, left as they were.
	AdvisoriesInPlace int `json:"advisoriesInPlace,omitempty"`
	// WithdrawnAdvisories are the files the previous import wrote into
	// the advisories directory that this bundle no longer lists, and what
	// became of each.
	WithdrawnAdvisories []WithdrawnAdvisory `json:"withdrawnAdvisories,omitempty"`
	ReferrersMode       ReferrersMode       `json:"referrersMode"`
	Seconds             float64             `json:"durationSeconds"`
	// FilesNotCarried, if set, says which of the bundle's side files were
	// left out of the target, and why; nil when they were carried (or the
	// bundle has none).
	FilesNotCarried *FilesNotCarried `json:"filesNotCarried,omitempty"`
}

// FilesNotCarried are the side files of a bundle (public-key.pem,
// SHA256SUMS, SHA256SUMS.sig, certificates) that an import, push or sync
// left behind: they are no part of what the envelope signs, and were not
// the ones its signing vouches for (SHA256SUMS.sig did not verify with a
// key that signed the envelope, say). The bundle itself was placed whole
// and verifies; pull gives back a directory without them.
type FilesNotCarried struct {
	// Files are the side files the bundle held, none of which was carried.
	Files []string `json:"files"`
	// Reason is why, on one line.
	Reason string `json:"reason"`
}

// ImportedImage is one image placed in the target.
type ImportedImage struct {
	Name      string        `json:"name"`
	Reference string        `json:"reference"`
	Digest    digest.Digest `json:"digest"`
	Tags      []string      `json:"tags"`
}

// BlobCounts count blob transfers: sent (bytes uploaded), mounted (linked
// from another repository of the registry), skipped (already there).
type BlobCounts struct {
	Sent      int64 `json:"sent"`
	Mounted   int64 `json:"mounted"`
	Skipped   int64 `json:"skipped"`
	BytesSent int64 `json:"bytesSent"`
}

// ManifestCounts count manifest pushes.
type ManifestCounts struct {
	Pushed  int64 `json:"pushed"`
	Present int64 `json:"present"`
}

// Import verifies a bundle and places it in the target registry: the
// signature first (nothing is written unless it verifies), then expiry and
// generation, then every blob streamed once and hashed on the way, then
// manifests children first, and tags last, so a failure at any point leaves
// no tag pointing at partial content. Re-running an interrupted import
// sends only what is missing.
func Import(ctx context.Context, opts ImportOptions) (_ *PlaceResult, err error) {
	start := time.Now()
	log := logger(opts.Logger)
	if opts.Client == nil || opts.Registry == "" {
		return nil, fmt.Errorf("import: no target registry: %w", errdef.ErrUsage)
	}
	if err := checkRegistryHost("--registry", opts.Registry); err != nil {
		return nil, err
	}
	if err := checkRepoPrefix(opts.RepoPrefix); err != nil {
		return nil, err
	}
	bundleRepo := firstNonEmpty(opts.BundleRepo, bundle.DefaultBundleRepository)
	if !bundle.ValidRepository(bundleRepo) {
		return nil, fmt.Errorf("--bundle-repo %q is not a valid repository name: %w", withoutAt(bundleRepo), errdef.ErrUsage)
	}
	if _, err := os.Stat(opts.Source); opts.SourcePlainHTTP && (err == nil || !looksLikeReference(opts.Source)) {
		if err != nil {
			// Not on disk: TOKEN@HOST/… or a URL is refused as such,
			// the token blanked, not quoted whole below.
			if err := refuseScheme(opts.Source); err != nil {
				return nil, err
			}
		}
		return nil, fmt.Errorf("--from-plain-http: %s is no registry reference (a FILE or DIR is read from disk): --to-plain-http (or --plain-http) talks plain HTTP to --registry: %w", opts.Source, errdef.ErrUsage)
	}
	src, err := openAnySource(ctx, opts.Client, opts.Source, opts.Trust, readGraph, log)
	if err != nil {
		return nil, err
	}
	defer src.close()
	defer func() { err = src.volumeAtFault(err) }()
	// The signature first, over the raw bytes: nothing the bundle says is
	// parsed further, or written anywhere, unless it verifies.
	if _, err := src.verifySignature(ctx, opts.Trust); err != nil {
		return nil, err
	}
	md, err := src.metadata(ctx)
	if err != nil {
		return nil, err
	}
	m := md.Manifest
	if err := src.checkStructure(ctx, md); err != nil {
		return nil, err
	}
	if err := checkExpiry(m, opts.Now, opts.AllowExpired, "import"); err != nil {
		return nil, err
	}
	plan, err := planPlacement(ctx, md, placementOptions{bundleRepo: bundleRepo, mapImages: true, prefix: opts.RepoPrefix})
	if err != nil {
		return nil, err
	}
	if err := src.checkNoStrays(ctx, plan, m); err != nil {
		return nil, err
	}
	src.placing = true
	tgt := newTarget(opts.Registry, opts.Client, opts.Transfer)
	recheck := func(ctx context.Context) error {
		return checkGeneration(ctx, tgt, bundleRepo, m.Release.Version, md, acceptance{trust: opts.Trust, allowRollback: opts.AllowRollback, verb: "import"}, log)
	}
	// The generation check reads the target's bundles while the placement
	// asks what the target holds; nothing is written before it passes.
	check, wctx := startCheck(ctx, log, func(ctx context.Context, log *slog.Logger) error {
		if err := checkGeneration(ctx, tgt, bundleRepo, m.Release.Version, md, acceptance{trust: opts.Trust, allowRollback: opts.AllowRollback, verb: "import"}, log); err != nil {
			return err
		}
		log.Info("bundle verified", "bundle", m.BundleID, "root", md.RootDesc.Digest, "generation", m.MirrorGeneration)
		return nil
	})
	check.tell(ctx) // the bundle is planned
	check.letGoFirst(wctx, tgt)
	if err := checkDeltaBase(wctx, tgt, md, plan, concurrency(opts.Transfer.Concurrency)); err != nil {
		return nil, check.settle(err)
	}
	pl := &placer{plan: plan, tgt: tgt, src: src, md: md, log: log, recheck: recheck, writes: check.gate}
	if opts.AdvisoriesDir != "" {
		// A directory not there yet is made only once the check passed: a
		// refused import makes nothing. It holds no record to check.
		if _, err := os.Stat(opts.AdvisoriesDir); errors.Is(err, fs.ErrNotExist) {
			if err := check.gate.Wait(wctx); err != nil {
				return nil, check.settle(err)
			}
		}
		if pl.adv, err = openAdvisoryDir(opts.AdvisoriesDir); err != nil {
			return nil, check.settle(err)
		}
		defer pl.adv.Close()
		pl.adv.allowRollback, pl.adv.keepWithdrawn = opts.AllowRollback, opts.KeepWithdrawn
		if len(m.Advisories) > 0 {
			// Before anything is written: the record read (asked again
			// once the tags are written), and the directory not taken
			// back to an older bundle's advisories.
			rec, err := pl.adv.readRecord()
			if err != nil {
				return nil, check.settle(err)
			}
			if err := checkRecordGeneration(opts.AdvisoriesDir, rec, md, opts.AllowRollback); err != nil {
				return nil, check.settle(err)
			}
			pl.adv.setRecord(rec)
		}
	}
	if err := check.settle(pl.run(wctx, concurrency(opts.Transfer.Concurrency))); err != nil {
		return nil, err
	}
	if err := refreshCatalog(ctx, tgt, bundleRepo, opts.CatalogKey, opts.CatalogPassword, opts.Trust, log); err != nil {
		return nil, err
	}
	res := pl.result(bundleRepo, start, true, opts.RepoPrefix)
	log.Info("import complete", "sent", res.Blobs.Sent, "mounted", res.Blobs.Mounted, "skipped", res.Blobs.Skipped, "referrers", res.ReferrersMode)
	if opts.AdvisoriesDir != "" && len(m.Advisories) == 0 {
		log.Warn("bundle lists no advisories: --advisories-dir left as it was (nothing written, nothing withdrawn)", "dir", opts.AdvisoriesDir)
	}
	if opts.AdvisoriesDir == "" && len(m.Advisories) > 0 {
		// The plan's load.sh ends by loading the advisories for the
		// scanner; without a directory they are only layers of the
		// bundle's metadata in the registry, and the summary said nothing.
		log.Warn("advisories not written to disk: they are only in the bundle repository; give --advisories-dir DIR to write them for the scanner",
			"advisories", len(m.Advisories), "repository", opts.Registry+"/"+bundleRepo)
	}
	return res, nil
}

// result sums up what the placer did; with images, where each image went.
func (pl *placer) result(bundleRepo string, start time.Time, images bool, prefix string) *PlaceResult {
	t, m := pl.tgt, pl.md.Manifest
	res := &PlaceResult{
		Registry: t.host, BundleRepository: bundleRepo, BundleTag: pl.plan.bundleTag, Root: pl.md.RootDesc.Digest,
		Version: m.Release.Version, Generation: m.MirrorGeneration, Tags: t.tagged.Load(), TagsInPlace: t.inPlace.Load(),
		Blobs:           BlobCounts{Sent: t.sent.Load(), Mounted: t.mounted.Load(), Skipped: t.skipped.Load(), BytesSent: t.bytesSent.Load()},
		Manifests:       ManifestCounts{Pushed: t.pushed.Load(), Present: t.present.Load()},
		KeptTags:        t.keptRefs(),
		ReferrersMode:   t.mode,
		Seconds:         time.Since(start).Seconds(),
		FilesNotCarried: pl.left,
	}
	if a := pl.advisories; a != nil {
		res.Advisories = append(append(res.Advisories, a.written...), a.inPlace...)
		slices.Sort(res.Advisories)
		res.AdvisoriesInPlace, res.WithdrawnAdvisories = len(a.inPlace), a.withdrawn
	}
	if images {
		for _, img := range m.Images {
			repo := ImageName(prefix, img)
			res.Images = append(res.Images, ImportedImage{Name: img.Name, Reference: t.host + "/" + repo + "@" + img.Digest.String(), Digest: img.Digest, Tags: img.Tags})
		}
	}
	return res
}

// checkGeneration refuses (errdef.ErrGeneration) a bundle older than the
// newest one repo holds, or of the same generation with other content,
// unless acc.allowRollback: a bundle repository never goes back silently.
// Only the bundles whose signature verifies under acc.trust count as held
// (target.generation). tag, the tag the bundle is to be written under, is
// read whether the tag list names it or not.
func checkGeneration(ctx context.Context, tgt *target, repo, tag string, md *metadata, acc acceptance, log *slog.Logger) error {
	hb, err := tgt.generation(ctx, repo, acc.trust, log, tag)
	if err != nil {
		return err
	}
	return judgeGeneration(tgt, repo, hb, md, acc)
}

// judgeGeneration is checkGeneration's judgement of md against hb, the
// newest bundle tgt's repo holds.
func judgeGeneration(tgt *target, repo string, hb heldBundle, md *metadata, acc acceptance) error {
	held, heldRoot, heldVersion, allow, verb := hb.generation, hb.root, hb.version, acc.allowRollback, acc.verb
	m := md.Manifest
	if (m.MirrorGeneration < held || (m.MirrorGeneration == held && heldRoot != md.RootDesc.Digest)) && !allow {
		// Without trust every root counts, whoever pushed it: say so,
		// and the cure, before --allow-rollback, which would let a real
		// rollback through as well.
		unverified := ""
		if acc.trust.Empty() {
			unverified = fmt.Sprintf(" (root %s, not verified: give --key with the bundles' signer's key to count only bundles it signed)", heldRoot)
		}
		// A delta takes its base's generation plus one: made on a base
		// older than what the registry holds (a stale inventory or
		// bundle), a newer release comes out no newer. Say so, and the cure.
		if m.Base != nil && m.Base.Generation < held {
			return fmt.Errorf("bundle %s has generation %d, a delta on %s (generation %d); %s/%s already holds generation %d, of release %s%s: make the delta again from a fresh inventory (--allow-rollback to %s it anyway): %w",
				m.BundleID, m.MirrorGeneration, m.Base.BundleID, m.Base.Generation, tgt.host, repo, held, heldVersion, unverified, verb, errdef.ErrGeneration)
		}
		return fmt.Errorf("bundle %s has generation %d; %s/%s already holds generation %d, of release %s%s (--allow-rollback to %s it anyway): %w",
			m.BundleID, m.MirrorGeneration, tgt.host, repo, held, heldVersion, unverified, verb, errdef.ErrGeneration)
	}
	return nil
}
