package mirror

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"sync"
	"time"

	"github.com/opencontainers/go-digest"
	"golang.org/x/sync/errgroup"

	"github.com/stellaops/mirror/pkg/bundle"
	"github.com/stellaops/mirror/pkg/errdef"
	"github.com/stellaops/mirror/pkg/layout"
	"github.com/stellaops/mirror/pkg/remote"
	"github.com/stellaops/mirror/pkg/transfer"
)

// ImportOptions say what to import where. Zero values are documented per
// field.
type ImportOptions struct {
	// Source is a bundle tar (.tar, .tar.gz, .tar.zst) or directory.
	// Required.
	Source string
	// Registry is the target registry, host[:port]. Required.
	Registry string
	// Trust says whose signatures are accepted. Required: the zero value
	// trusts nobody, so nothing imports.
	Trust TrustOptions
	// AdvisoriesDir, if set, receives the advisories (advisories/x.json.gz
	// is written as AdvisoriesDir/x.json.gz), each whole or not at all.
	AdvisoriesDir string
	// RepoPrefix is put before every image's repository on the target.
	RepoPrefix string
	// BundleRepo is where the bundle itself goes; empty means
	// bundle.DefaultBundleRepository.
	BundleRepo string
	// AllowExpired imports a bundle past its expiresAt.
	AllowExpired bool
	// AllowRollback imports a bundle older than the one the target holds.
	AllowRollback bool
	// Now is the time expiry is checked against; zero means the clock.
	Now time.Time
	// Client reaches the target registry. Required.
	Client *remote.Client
	// Transfer sets concurrency, retries and progress.
	Transfer transfer.Options
	// Logger receives progress logs; nil discards them.
	Logger *slog.Logger
}

// ImportResult says what an import did.
type ImportResult struct {
	Registry         string          `json:"registry"`
	BundleRepository string          `json:"bundleRepository"`
	Root             digest.Digest   `json:"root"`
	Version          string          `json:"version"`
	Generation       int64           `json:"mirrorGeneration"`
	Images           []ImportedImage `json:"images"`
	Tags             int64           `json:"tags"`
	Blobs            BlobCounts      `json:"blobs"`
	Manifests        ManifestCounts  `json:"manifests"`
	Advisories       []string        `json:"advisories,omitempty"`
	ReferrersMode    ReferrersMode   `json:"referrersMode"`
	Seconds          float64         `json:"durationSeconds"`
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
func Import(ctx context.Context, opts ImportOptions) (*ImportResult, error) {
	start := time.Now()
	log := logger(opts.Logger)
	if opts.Client == nil || opts.Registry == "" {
		return nil, fmt.Errorf("import: no target registry: %w", errdef.ErrUsage)
	}
	bundleRepo := firstNonEmpty(opts.BundleRepo, bundle.DefaultBundleRepository)
	if !bundle.ValidRepository(bundleRepo) {
		return nil, fmt.Errorf("--bundle-repo %q is not a valid repository name: %w", bundleRepo, errdef.ErrUsage)
	}
	src, err := openSource(ctx, opts.Source, log)
	if err != nil {
		return nil, err
	}
	defer src.close()
	// The signature first, over the raw bytes: nothing the bundle says is
	// parsed further, or written anywhere, unless it verifies.
	if _, err := verifyBundleSignature(ctx, src.file, opts.Trust); err != nil {
		return nil, err
	}
	md, err := src.metadata(ctx)
	if err != nil {
		return nil, err
	}
	m := md.Manifest
	if err := md.checkStructure(ctx); err != nil {
		return nil, err
	}
	now := opts.Now
	if now.IsZero() {
		now = time.Now()
	}
	if now.After(m.ExpiresAt) && !opts.AllowExpired {
		return nil, fmt.Errorf("bundle %s expired at %s (--allow-expired to import it anyway): %w", m.BundleID, m.ExpiresAt.Format(time.RFC3339), errdef.ErrExpired)
	}
	plan, err := planPlacement(ctx, md, opts.RepoPrefix, bundleRepo)
	if err != nil {
		return nil, err
	}
	tgt := newTarget(opts.Registry, opts.Client, opts.Transfer)
	held, heldRoot, err := tgt.generation(ctx, bundleRepo)
	if err != nil {
		return nil, err
	}
	if (m.MirrorGeneration < held || (m.MirrorGeneration == held && heldRoot != md.RootDesc.Digest)) && !opts.AllowRollback {
		return nil, fmt.Errorf("bundle %s has generation %d; %s/%s already holds generation %d (--allow-rollback to import it anyway): %w",
			m.BundleID, m.MirrorGeneration, opts.Registry, bundleRepo, held, errdef.ErrGeneration)
	}
	log.Info("bundle verified", "bundle", m.BundleID, "root", md.RootDesc.Digest, "generation", m.MirrorGeneration)

	imp := &importer{plan: plan, tgt: tgt, src: src, md: md, log: log}
	if opts.AdvisoriesDir != "" {
		if imp.adv, err = openAdvisoryDir(opts.AdvisoriesDir); err != nil {
			return nil, err
		}
		defer imp.adv.Close()
	}
	if err := imp.blobs(ctx, concurrency(opts.Transfer.Concurrency)); err != nil {
		return nil, err
	}
	if err := imp.manifests(ctx); err != nil {
		return nil, err
	}
	if err := tgt.tag(ctx, plan.tags); err != nil {
		return nil, err
	}
	res := &ImportResult{
		Registry: opts.Registry, BundleRepository: bundleRepo, Root: md.RootDesc.Digest,
		Version: m.Release.Version, Generation: m.MirrorGeneration, Tags: tgt.tagged.Load(),
		Blobs:         BlobCounts{Sent: tgt.sent.Load(), Mounted: tgt.mounted.Load(), Skipped: tgt.skipped.Load(), BytesSent: tgt.bytesSent.Load()},
		Manifests:     ManifestCounts{Pushed: tgt.pushed.Load(), Present: tgt.present.Load()},
		Advisories:    imp.written,
		ReferrersMode: tgt.mode,
		Seconds:       time.Since(start).Seconds(),
	}
	for _, img := range m.Images {
		repo := ImageName(opts.RepoPrefix, img)
		res.Images = append(res.Images, ImportedImage{Name: img.Name, Reference: opts.Registry + "/" + repo + "@" + img.Digest.String(), Digest: img.Digest, Tags: img.Tags})
	}
	log.Info("import complete", "sent", res.Blobs.Sent, "mounted", res.Blobs.Mounted, "skipped", res.Blobs.Skipped, "referrers", res.ReferrersMode)
	return res, nil
}

// importer carries one import's state.
type importer struct {
	plan *placement
	tgt  *target
	src  *source
	md   *metadata
	adv  *advisoryWriter
	log  *slog.Logger
	// spreadCtx is the context of the spreads, which outlive the blob
	// reads that queue them.
	spreadCtx context.Context
	mu        sync.Mutex
	written   []string
}

// blobs places every blob of the plan, from a stream or at random.
func (imp *importer) blobs(ctx context.Context, limit int) error {
	spreads, sctx := errgroup.WithContext(ctx)
	spreads.SetLimit(limit)
	imp.spreadCtx = sctx
	var err error
	if imp.src.stream != nil {
		err = imp.streamBlobs(sctx, spreads)
	} else {
		err = imp.fetchBlobs(sctx, spreads, limit)
	}
	if werr := spreads.Wait(); err == nil {
		err = werr
	}
	return err
}

// streamBlobs reads the archive once, front to back: every blob entry must
// be one the bundle names, with its declared size, and is sent to its
// first repository (hashed on the way) and spread to the others; human-view
// copies are skipped. Blobs the archive lacks must already be in the
// target.
func (imp *importer) streamBlobs(ctx context.Context, spreads *errgroup.Group) error {
	docs := imp.plan.manifestDigests()
	human := map[string]int64{}
	var declared int64
	for _, f := range append(append([]bundle.File{}, imp.md.Manifest.Advisories...), imp.md.Manifest.Files...) {
		human[f.Path] = f.Size
		declared += f.Size
	}
	for _, b := range imp.plan.blobs {
		declared += b.desc.Size
	}
	for _, m := range docs {
		declared += m
	}
	done := map[digest.Digest]bool{}
	err := imp.src.stream(declared+layout.DefaultTarLimit, func(e *layout.Entry, r io.Reader) error {
		if dg, ok := layout.BlobDigest(e.Name); ok {
			if _, isDoc := docs[dg]; isDoc {
				return nil
			}
			b := imp.plan.byDig[dg]
			if b == nil {
				return fmt.Errorf("%s: archive entry %s is not part of the bundle: %w", imp.src.name, e.Name, errdef.ErrMalformed)
			}
			if e.Size != b.desc.Size {
				return fmt.Errorf("%s: archive entry %s has %d bytes, its descriptor says %d: %w", imp.src.name, e.Name, e.Size, b.desc.Size, errdef.ErrDigestMismatch)
			}
			done[dg] = true
			return imp.place(ctx, spreads, b, r)
		}
		if size, ok := human[e.Name]; ok {
			if size != e.Size {
				return fmt.Errorf("%s: archive entry %s has %d bytes, manifest.json says %d: %w", imp.src.name, e.Name, e.Size, size, errdef.ErrDigestMismatch)
			}
			return nil
		}
		if layout.IsHeadFile(e.Name) {
			return nil
		}
		return fmt.Errorf("%s: archive entry %q is not part of the bundle: %w", imp.src.name, e.Name, errdef.ErrMalformed)
	})
	if err != nil {
		return err
	}
	for _, b := range imp.plan.blobs {
		if done[b.desc.Digest] {
			continue
		}
		ok, err := imp.tgt.hasBlob(ctx, b.repos[0], b.desc)
		if err != nil {
			return err
		}
		if !ok {
			return fmt.Errorf("%s: archive lacks blob %s and %s/%s does not have it (truncated archive?): %w", imp.src.name, b.desc.Digest, imp.tgt.host, b.repos[0], errdef.ErrMalformed)
		}
		imp.tgt.skipped.Add(1)
		spreads.Go(func() error { return imp.tgt.spread(ctx, b) })
	}
	return nil
}

// fetchBlobs reads every blob at random, limit at a time.
func (imp *importer) fetchBlobs(ctx context.Context, spreads *errgroup.Group, limit int) error {
	g, ctx := errgroup.WithContext(ctx)
	g.SetLimit(limit)
	for _, b := range imp.plan.blobs {
		g.Go(func() error {
			rc, err := imp.src.fetch(ctx, b.desc)
			if err != nil {
				return fmt.Errorf("%s: blob %s: %w", imp.src.name, b.desc.Digest, err)
			}
			defer rc.Close()
			return imp.place(ctx, spreads, b, rc)
		})
	}
	return g.Wait()
}

// place sends one blob to its first repository, unless it is there, and
// queues its spread to the others. An advisory is also written to the
// advisories directory, committed only once its bytes verified.
func (imp *importer) place(ctx context.Context, spreads *errgroup.Group, b *blobPlace, r io.Reader) error {
	var adv *pendingAdvisory
	if paths := imp.plan.advisories[b.desc.Digest]; len(paths) > 0 && imp.adv != nil {
		var err error
		if adv, err = imp.adv.create(paths); err != nil {
			return err
		}
		r = io.TeeReader(r, adv.writer())
	}
	err := imp.send(ctx, b, r, adv != nil)
	if adv != nil {
		if err != nil {
			adv.abort()
		} else {
			written, cerr := adv.commit()
			imp.mu.Lock()
			imp.written = append(imp.written, written...)
			imp.mu.Unlock()
			err = cerr
		}
	}
	if err != nil {
		return err
	}
	spreads.Go(func() error { return imp.tgt.spread(imp.spreadCtx, b) })
	return nil
}

// send uploads b from r into its first repository unless it is there. With
// mustRead, content that is not sent is still read and verified.
func (imp *importer) send(ctx context.Context, b *blobPlace, r io.Reader, mustRead bool) error {
	ok, err := imp.tgt.hasBlob(ctx, b.repos[0], b.desc)
	if err != nil {
		return err
	}
	if !ok {
		return imp.tgt.upload(ctx, b.repos[0], b.desc, r)
	}
	imp.tgt.skipped.Add(1)
	if mustRead {
		_, err = io.Copy(io.Discard, bundle.NewVerifyReader(r, b.desc))
	}
	return err
}

// manifests pushes the manifests children first: images, then (once the
// registry's referrers support is known) image referrers, the bundle
// metadata and root, then the signature.
func (imp *importer) manifests(ctx context.Context) error {
	if err := imp.tgt.pushManifests(ctx, imp.plan.images); err != nil {
		return err
	}
	probe := imp.plan.bundleRepo
	if len(imp.plan.images) > 0 {
		probe = imp.plan.images[0].repo
	}
	mode, err := imp.tgt.detectReferrers(ctx, probe, imp.md.RootDesc.Digest)
	if err != nil {
		return err
	}
	imp.log.Info("referrers", "mode", mode)
	for _, phase := range [][]manifestPlace{imp.plan.referrers, imp.plan.root, imp.plan.signature} {
		if err := imp.tgt.pushManifests(ctx, phase); err != nil {
			return err
		}
	}
	return nil
}

// manifestDigests lists every manifest of the plan with its size.
func (p *placement) manifestDigests() map[digest.Digest]int64 {
	out := map[digest.Digest]int64{}
	for _, phase := range [][]manifestPlace{p.images, p.referrers, p.root, p.signature} {
		for _, m := range phase {
			out[m.desc.Digest] = m.desc.Size
		}
	}
	return out
}
