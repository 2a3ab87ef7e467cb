package mirror

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/opencontainers/go-digest"
	specs "github.com/opencontainers/image-spec/specs-go"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/stellaops/mirror/pkg/bundle"
	"github.com/stellaops/mirror/pkg/errdef"
	"github.com/stellaops/mirror/pkg/keys"
	"github.com/stellaops/mirror/pkg/layout"
	"github.com/stellaops/mirror/pkg/release"
	"github.com/stellaops/mirror/pkg/remote"
	"github.com/stellaops/mirror/pkg/transfer"
)

// DefaultValidFor is how long a bundle stays importable when
// CreateOptions.ValidFor is zero: long enough for a monthly release to cross
// the gap, short enough that stale advisories do not linger.
const DefaultValidFor = 90 * 24 * time.Hour

// CreateOptions say what bundle to create. Zero values are documented per
// field.
type CreateOptions struct {
	// ReleaseFile is the release YAML or plain list of references. Required.
	ReleaseFile string
	// AdvisoriesDir, if set, is a directory of JSON advisory files (gzip'd or
	// not) carried under advisories/.
	AdvisoriesDir string
	// Output is the bundle directory to write. It must not exist or be empty,
	// unless Force. A name ending in .tar writes the packed (and, with Key,
	// signed) archive straight away instead, in one pass from the registries
	// to the media: large blobs go into the archive at their place, with no
	// directory copy and no second read.
	Output string
	// Key, with an archive Output, signs the bundle before its blobs are
	// fetched (they are verified as they arrive); Password unlocks it, and
	// Certificate and CertificateChain are carried as sign carries them.
	Key              string
	Password         keys.PassFunc
	Certificate      string
	CertificateChain string
	// Force replaces an existing Output.
	Force bool
	// AllowTags accepts references without a digest, resolving each tag once
	// and recording the digest; otherwise they are refused.
	AllowTags bool
	// NoReferrers skips the referrers (signatures, SBOMs) of each image.
	NoReferrers bool
	// Platform ("os/arch[/variant][:osversion]"), if set, keeps only that platform's
	// manifest of each multi-platform image; by default every platform is
	// kept and indexes stay byte for byte.
	Platform string
	// Version and Channel override release.version and release.channel; a
	// plain list of references needs Version.
	Version string
	Channel string
	// Created is the bundle's createdAt; zero means now. Fixing it (the CLI
	// takes --created or SOURCE_DATE_EPOCH) makes create reproducible.
	Created time.Time
	// ValidFor is how long after Created the bundle expires; zero means
	// DefaultValidFor.
	ValidFor time.Duration
	// Generation is the mirrorGeneration; zero means Created as Unix seconds,
	// which grows with every bundle made later (for a delta: the base's
	// plus one).
	Generation int64
	// Base, if set, makes a delta bundle: a previous bundle (directory, tar
	// or registry reference) or an inventory (.json) of the far side. The
	// delta lists everything of the release but carries only the blobs the
	// base does not hold; manifest.json records the base and what was
	// omitted.
	Base string
	// BaseTrust must accept the base's signature (a bundle's, or an
	// inventory's .dsse); with Base set it may not be empty, since the base
	// sets the delta's generation and what it omits.
	BaseTrust TrustOptions
	// Producer names the tool version written into manifest.json.
	Producer bundle.Producer
	// Client reaches the source registries. Required.
	Client *remote.Client
	// Transfer sets concurrency, retries and progress for blob fetches.
	Transfer transfer.Options
	// Logger receives progress logs; nil discards them.
	Logger *slog.Logger
}

// CreateResult is what Create made.
type CreateResult struct {
	// Path is the bundle directory, or the archive where Output names one
	// (FILE.tar, .tar.gz, .tar.zst).
	Path string `json:"path"`
	// Root is the root index's descriptor.
	Root ocispec.Descriptor `json:"root"`
	// Manifest is the manifest.json written.
	Manifest *bundle.Manifest `json:"manifest"`
	// Blobs and Bytes count the unique blobs fetched from the sources.
	Blobs int64 `json:"blobs"`
	Bytes int64 `json:"bytes"`
}

// adviceOnePass is what to do when create's one-pass archive passes the
// medium's file-size limit.
const adviceOnePass = "create a bundle directory, then " + layout.AdviceArchive

// Create pulls every image of a release by digest (with its referrers),
// adds the advisories, scripts and guides, and writes a bundle directory
// that is at once an OCI image layout and the plan's folder. The directory
// appears complete or not at all.
func Create(ctx context.Context, opts CreateOptions) (*CreateResult, error) {
	res, err := create(ctx, opts)
	if !strings.HasSuffix(opts.Output, ".tar") {
		return res, layout.OutOfRoom(opts.Output, layout.AdviceDir, err)
	}
	err = layout.OutOfRoom(opts.Output, adviceOnePass, err)
	if full := (*layout.NoSpaceError)(nil); errors.As(err, &full) {
		full.OnePass = true // no pack --split of it: of a bundle directory
	}
	return res, err
}

func create(ctx context.Context, opts CreateOptions) (*CreateResult, error) {
	log := logger(opts.Logger)
	if opts.Client == nil {
		return nil, fmt.Errorf("create: no registry client: %w", errdef.ErrUsage)
	}
	rel, err := readRelease(opts.ReleaseFile)
	if err != nil {
		return nil, err
	}
	version, channel := firstNonEmpty(opts.Version, rel.Version), firstNonEmpty(opts.Channel, rel.Channel)
	if version == "" {
		return nil, fmt.Errorf("%s: a plain list of references needs --release-version: %w", opts.ReleaseFile, errdef.ErrUsage)
	}
	if !bundle.ValidTag(version) {
		return nil, fmt.Errorf("release version %q is not a valid tag: %w", version, errdef.ErrUsage)
	}
	if err := checkCreateInputs(opts, version, channel); err != nil {
		return nil, err
	}
	warnBundleRepository(rel, opts.ReleaseFile, log)
	if unpinned := rel.Unpinned(); len(unpinned) > 0 && !opts.AllowTags {
		u := unpinned[0]
		return nil, fmt.Errorf("%s:%d: %s is not pinned by digest (pin it, or pass --allow-tags): %w", opts.ReleaseFile, u.Line, u.Ref, errdef.ErrMalformed)
	}

	if err := checkOutputOutsideAdvisories(opts.AdvisoriesDir, opts.Output); err != nil {
		return nil, err
	}
	if opts.Base != "" {
		if err := checkBaseTrust(opts.Base, opts.BaseTrust); err != nil {
			return nil, err
		}
	}
	if opts.Base == "" && !opts.BaseTrust.Empty() {
		return nil, fmt.Errorf("--base-key and --base-trust-root verify the base of a delta: each needs --base (without it create writes a full bundle): %w", errdef.ErrUsage)
	}
	// A release no bundle can hold is refused before anything is fetched,
	// not once every blob is on disk.
	advisories, cut, err := advisoryPaths(opts.AdvisoriesDir)
	if err != nil {
		return nil, err
	}
	validFor := opts.ValidFor
	if validFor == 0 {
		validFor = DefaultValidFor
	}
	if validFor < 0 {
		return nil, fmt.Errorf("--valid-for %s is negative: %w", validFor, errdef.ErrUsage)
	}
	kit, err := kitFiles()
	if err != nil {
		return nil, err
	}
	// The head as it will be written, its time and generation standing
	// for ones of the same width (a delta's, not known before its base
	// is read, at its least).
	now := createdAt(opts.Created)
	head := manifestHead(version, channel, opts.Producer, generationOf(opts.Generation, nil, now), now, validFor)
	if opts.Base != "" && opts.Generation == 0 {
		head.MirrorGeneration = 0
	}
	if err := (releaseFit{file: opts.ReleaseFile, images: releaseImages(rel, version), advisories: advisories, advisoriesCut: cut, head: head, files: kit}).check(); err != nil {
		return nil, err
	}
	archive := strings.HasSuffix(opts.Output, ".tar")
	if c, err := layout.CompressionFor(opts.Output); err == nil && c != layout.None {
		// A compressed name is a promise of an archive create does not
		// write: refuse it rather than make a directory called FILE.tar.zst.
		return nil, fmt.Errorf("--output %s: create writes a directory or a .tar; for .tar.gz or .tar.zst, create a directory and pack it (stella mirror pack DIR --output %s): %w", opts.Output, opts.Output, errdef.ErrUsage)
	}
	if archive {
		if _, err := os.Lstat(opts.Output); err == nil && !opts.Force {
			return nil, fmt.Errorf("%s: %w (use --force to replace it)", opts.Output, errdef.ErrExists)
		}
	} else if opts.Key != "" {
		return nil, fmt.Errorf("--key signs an archive written by create (--output FILE.tar); sign a directory with stella mirror sign: %w", errdef.ErrUsage)
	}
	// The key is opened first: a wrong password or key fails before any
	// transfer, and its KDF's memory is spent while little else is held.
	var signer *keys.Signer
	if opts.Key != "" {
		if signer, err = keys.LoadSigner(ctx, opts.Key, opts.Password); err != nil {
			return nil, err
		}
	}

	log.Info("resolving images", "count", len(rel.Images))
	images, err := resolveImages(ctx, opts.Client, rel.Images, &opts)
	if err != nil {
		return nil, err
	}
	if images, err = sortImages(images, opts.ReleaseFile); err != nil {
		return nil, err
	}
	for _, img := range images {
		warnSkippedReferrers(log, img.Ref.String(), img.graph.Skipped)
		for _, tag := range img.leftTags {
			log.Warn("cosign tag not carried: it names the index --platform leaves out", "image", img.Ref.String(), "tag", tag)
		}
	}

	var base *baseInfo
	if opts.Base != "" {
		if base, err = loadBase(ctx, opts.Client, opts.Base, opts.BaseTrust, log); err != nil {
			return nil, err
		}
		// Before any blob is fetched: the flags alone decide it.
		if opts.Generation != 0 {
			if err := checkBaseGeneration(base, opts.Generation); err != nil {
				return nil, err
			}
		}
	}
	for _, img := range images {
		if err := checkNonDistributable(ctx, img, base); err != nil {
			return nil, fmt.Errorf("%s: %w", img.Where(opts.ReleaseFile), err)
		}
	}
	// Every manifest is known now: again, with what they name, before a
	// blob is fetched.
	head.MirrorGeneration = generationOf(opts.Generation, base, now)
	fit := func(platforms platformsFunc) releaseFit {
		f := resolvedFit(opts.ReleaseFile, version, images, advisories, base, platforms)
		f.head, f.files = head, kit
		return f
	}
	if err := checkResolvedFit(ctx, fit, images, concurrency(opts.Transfer.Concurrency)); err != nil {
		return nil, err
	}
	// A directory output is the user's, replaced only with Force; an
	// archive's staging directory is a hidden one of ours, never committed.
	var stage *layout.Staging
	if archive {
		stage, err = layout.StageScratch(opts.Output)
	} else {
		stage, err = layout.Stage(opts.Output, opts.Force)
	}
	if err != nil {
		return nil, err
	}
	defer stage.Abort()

	omitted := map[digest.Digest]bool{}
	late, stats, err := fetchContent(ctx, stage, images, opts.ReleaseFile, opts.Transfer, base, omitted, archive)
	if err != nil {
		return nil, err
	}
	log.Info("fetched blobs", "blobs", stats.Blobs, "bytes", stats.Bytes)

	created := createdAt(opts.Created)
	m := manifestHead(version, channel, opts.Producer, generationOf(opts.Generation, base, created), created, validFor)
	for _, img := range images {
		root, _ := img.graph.Node(img.root.Digest)
		platforms, err := platformsOf(root, img.graph.Node, func(d ocispec.Descriptor) ([]byte, error) {
			if omitted[d.Digest] {
				data, err := transfer.FetchBytes(ctx, img.repo, d)
				return data, remote.Classify(err)
			}
			return stage.FetchBytes(ctx, d)
		})
		if err != nil {
			return nil, fmt.Errorf("%s: %w", img.Where(opts.ReleaseFile), err)
		}
		m.Images = append(m.Images, manifestImage(img, version, platforms))
	}
	if m.Advisories, err = addAdvisories(ctx, log, stage, opts.AdvisoriesDir); err != nil {
		return nil, err
	}
	if m.Files, err = addKit(ctx, stage); err != nil {
		return nil, err
	}
	if base != nil {
		// Only advisories: the kit (scripts/, docs/) is a few KiB and is
		// what the operator runs and reads on the far side, update.sh
		// first; a delta carries it as every bundle does.
		if err := omitFiles(stage, m.Advisories, m.Files, base, omitted); err != nil {
			return nil, err
		}
		m.Base = base.manifestBase(omitted)
	}
	root, err := writeBundle(ctx, stage, m)
	if err != nil {
		return nil, err
	}
	if archive {
		n, err := writeArchive(ctx, stage, late, signer, opts, log)
		if err != nil {
			return nil, err
		}
		stats.Blobs += n.Blobs
		stats.Bytes += n.Bytes
		log.Info("archive written", "path", opts.Output, "root", root.Digest)
		return &CreateResult{Path: opts.Output, Root: root, Manifest: m, Blobs: stats.Blobs, Bytes: stats.Bytes}, nil
	}
	if err := stage.Commit(); err != nil {
		return nil, err
	}
	if err := stage.LeftBehind(); err != nil {
		log.Warn("the bundle replaced could not be removed", "err", err)
	}
	log.Info("bundle written", "path", opts.Output, "root", root.Digest)
	return &CreateResult{Path: opts.Output, Root: root, Manifest: m, Blobs: stats.Blobs, Bytes: stats.Bytes}, nil
}

func readRelease(path string) (*release.Release, error) {
	if path == "" {
		return nil, fmt.Errorf("--images: no release file given: %w", errdef.ErrUsage)
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("release file %s: %w", path, errdef.ErrNotFound)
	}
	defer f.Close()
	data, err := readBounded(f, release.MaxFileSize, path)
	if err != nil {
		return nil, err
	}
	return release.Parse(path, data)
}

// fetchContent writes every manifest (from memory, already verified) and
// fetches every unique blob once, in parallel, from the first image's
// repository that names it.
//
// For an archive, every blob but the images' configs (read for the bundle's
// own facts: an image's platform) is only registered (an external blob of
// the staging directory) and returned: it goes straight into the archive
// later, whatever its size.
func fetchContent(ctx context.Context, stage *layout.Staging, images []*sourceImage, releaseFile string, opts transfer.Options, base *baseInfo,
	omitted map[digest.Digest]bool, archive bool) ([]transfer.Job, transfer.Stats, error) {
	seen, configs := map[digest.Digest]bool{}, configDigests(images)
	var jobs, late []transfer.Job
	for _, img := range images {
		for _, n := range img.graph.Nodes {
			if seen[n.Descriptor.Digest] {
				continue
			}
			seen[n.Descriptor.Digest] = true
			if err := stage.PushBytes(ctx, n.Descriptor, n.Bytes); err != nil {
				return nil, transfer.Stats{}, err
			}
		}
		for _, b := range img.graph.Blobs {
			if seen[b.Digest] {
				continue
			}
			seen[b.Digest] = true
			if base.omit(b) {
				omitted[b.Digest] = true
				continue
			}
			job := transfer.Job{Desc: b, Src: img.repo, Dst: stage, For: img.Where(releaseFile)}
			if archive && !configs[b.Digest] {
				stage.AddExternal(b)
				late = append(late, job)
				continue
			}
			jobs = append(jobs, job)
		}
	}
	stats, err := transfer.CopyBlobs(ctx, jobs, opts)
	return late, stats, err
}

// configDigests are the configs of every image manifest in the images'
// graphs (the first child of a manifest).
func configDigests(images []*sourceImage) map[digest.Digest]bool {
	configs := map[digest.Digest]bool{}
	for _, img := range images {
		for _, c := range img.configs {
			configs[c] = true
		}
	}
	return configs
}

// writeBundle writes manifest.json, the metadata manifest, the root index,
// index.json and SHA256SUMS, and returns the root's descriptor.
func writeBundle(ctx context.Context, stage *layout.Staging, m *bundle.Manifest) (ocispec.Descriptor, error) {
	id, err := bundleID(m)
	if err != nil {
		return ocispec.Descriptor{}, err
	}
	m.BundleID = id
	if err := m.Validate(); err != nil {
		return ocispec.Descriptor{}, err
	}
	data, err := m.Marshal()
	if err != nil {
		return ocispec.Descriptor{}, err
	}
	if len(data) > bundle.MaxManifestJSONSize {
		return ocispec.Descriptor{}, fmt.Errorf("release too large for one bundle: its manifest.json would be %d bytes (%d images, %d advisory files), over the %d that a signed bundle holds: split the release, or carry the advisories as fewer files: %w",
			len(data), len(m.Images), len(m.Advisories), bundle.MaxManifestJSONSize, errdef.ErrUsage)
	}
	mdesc, err := stage.AddFile(ctx, layout.ManifestFile, bytes.NewReader(data), bundle.MediaTypeManifestJSON, 0o644)
	if err != nil {
		return ocispec.Descriptor{}, err
	}
	meta, err := bundle.MetadataManifest(mdesc, m)
	if err != nil {
		return ocispec.Descriptor{}, err
	}
	root, err := bundle.RootIndex(m, meta.Descriptor)
	if err != nil {
		return ocispec.Descriptor{}, err
	}
	if err := stage.PushBytes(ctx, bundle.EmptyConfig, bundle.EmptyConfigBytes); err != nil {
		return ocispec.Descriptor{}, err
	}
	for _, doc := range []bundle.Document{meta, root} {
		if err := stage.PushBytes(ctx, doc.Descriptor, doc.Bytes); err != nil {
			return ocispec.Descriptor{}, err
		}
	}
	if err := stage.WriteIndex(LayoutIndex(m, root.Descriptor)); err != nil {
		return ocispec.Descriptor{}, err
	}
	if _, err := stage.WriteChecksums(true); err != nil {
		return ocispec.Descriptor{}, err
	}
	return root.Descriptor, nil
}

// LayoutIndex is the index.json of a bundle directory: the root under the
// release version, and each image under "<repository>:<version>" so that any
// OCI tool can address one image in the layout.
func LayoutIndex(m *bundle.Manifest, root ocispec.Descriptor) *ocispec.Index {
	idx := &ocispec.Index{
		Versioned: specs.Versioned{SchemaVersion: 2},
		MediaType: ocispec.MediaTypeImageIndex,
		Manifests: []ocispec.Descriptor{{
			MediaType:    root.MediaType,
			ArtifactType: bundle.ArtifactTypeBundle,
			Digest:       root.Digest,
			Size:         root.Size,
			Annotations:  map[string]string{ocispec.AnnotationRefName: m.Release.Version},
		}},
	}
	for _, img := range m.Images {
		idx.Manifests = append(idx.Manifests, ocispec.Descriptor{
			MediaType:   img.MediaType,
			Digest:      img.Digest,
			Size:        img.Size,
			Annotations: map[string]string{ocispec.AnnotationRefName: img.Repository + ":" + m.Release.Version},
		})
	}
	return idx
}

// createdAt is the time a bundle is created at: at, or the clock, to the
// second.
func createdAt(at time.Time) time.Time {
	if at.IsZero() {
		at = time.Now()
	}
	return at.UTC().Truncate(time.Second)
}

// generationOf is a bundle's mirrorGeneration: given, else its base's
// next, else its creation time's.
func generationOf(given int64, base *baseInfo, created time.Time) int64 {
	switch {
	case given != 0:
		return given
	case base != nil:
		return base.base.Generation + 1
	}
	return created.Unix()
}

// bundleID derives a stable id from what the bundle holds: the same inputs
// give the same id, different content a different one.
func bundleID(m *bundle.Manifest) (string, error) {
	unnamed := *m
	unnamed.BundleID = ""
	data, err := bundle.Canonical(&unnamed)
	if err != nil {
		return "", err
	}
	sum := sha256.Sum256(data)
	return bundleIDFor(m.Release, sum[:bundleIDSum]), nil
}

// bundleIDSum is how many bytes of its digest a bundle id takes.
const bundleIDSum = 6

// bundleIDFor is the bundle id of a release with the leading bytes sum of
// the digest of its manifest.json (without the id).
func bundleIDFor(r bundle.Release, sum []byte) string {
	id := r.Version
	if r.Channel != "" {
		id += "-" + r.Channel
	}
	return id + "-" + hex.EncodeToString(sum)
}

// manifestHead is manifest.json as create starts it: all but its images,
// advisories, files, base and id.
func manifestHead(version, channel string, producer bundle.Producer, generation int64, created time.Time, validFor time.Duration) *bundle.Manifest {
	return &bundle.Manifest{
		SchemaVersion:    bundle.SchemaVersion,
		Release:          bundle.Release{Version: version, Channel: channel},
		MirrorGeneration: generation,
		CreatedAt:        created,
		ExpiresAt:        created.Add(validFor),
		Producer:         producer,
		Images:           []bundle.Image{},
		Advisories:       []bundle.File{},
		Files:            []bundle.File{},
	}
}

// omitFiles removes from a delta's directory the files (advisories) the
// base holds (human view and blob), recording them as omitted; a blob that
// one of keep (the kit, always carried) also names stays.
func omitFiles(stage *layout.Staging, files, keep []bundle.File, base *baseInfo, omitted map[digest.Digest]bool) error {
	kept := map[digest.Digest]bool{}
	for _, f := range keep {
		kept[f.Digest] = true
	}
	for _, f := range files {
		d := ocispec.Descriptor{Digest: f.Digest, Size: f.Size}
		if kept[f.Digest] || !base.omit(d) {
			continue
		}
		omitted[f.Digest] = true
		for _, p := range []string{filepath.Join(stage.Path(), filepath.FromSlash(f.Path)), stage.BlobPath(f.Digest)} {
			if err := os.Remove(p); err != nil && !os.IsNotExist(err) {
				return err
			}
		}
	}
	return nil
}
