package mirror

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"regexp"
	"strings"

	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/stellaops/mirror/pkg/bundle"
	"github.com/stellaops/mirror/pkg/errdef"
	"github.com/stellaops/mirror/pkg/layout"
	"github.com/stellaops/mirror/pkg/remote"
	"github.com/stellaops/mirror/pkg/transfer"
)

// PullOptions say which bundle to pull into which directory.
type PullOptions struct {
	// Reference is host/repository:tag or @digest of a bundle root.
	// Required.
	Reference string
	// Output is the bundle directory to write; it must not exist or be
	// empty, unless Force.
	Output string
	Force  bool
	// Trust, if not empty, must accept the signature before anything is
	// written.
	Trust TrustOptions
	// Client reaches the registry. Required.
	Client *remote.Client
	// Transfer sets concurrency, retries and progress.
	Transfer transfer.Options
	// Logger receives progress logs; nil discards them.
	Logger *slog.Logger
}

// PullResult is what Pull wrote.
type PullResult struct {
	Path       string        `json:"path"`
	Root       digest.Digest `json:"root"`
	Version    string        `json:"version"`
	Generation int64         `json:"mirrorGeneration"`
	Verified   bool          `json:"signatureVerified"`
	Blobs      int64         `json:"blobs"`
	Bytes      int64         `json:"bytes"`
	// FilesNotCarried, if set, says which side files of the bundle's
	// signing were passed over (no files referrer of the signature was
	// the signer's) and why: the directory has a SHA256SUMS of its own
	// instead, and no public-key.pem or SHA256SUMS.sig.
	FilesNotCarried *FilesNotCarried `json:"filesNotCarried,omitempty"`
}

// Pull writes a bundle from a registry back into a bundle directory as
// create and sign made it: the OCI layout, manifest.json, the human view,
// manifest.dsse, and the files the files referrer carries (public-key.pem,
// SHA256SUMS and its signature, certificates), so that pack, verify and
// verify-checksums work on it. The directory appears whole or not at all.
func Pull(ctx context.Context, opts PullOptions) (*PullResult, error) {
	res, err := pull(ctx, opts)
	return res, layout.OutOfRoom(opts.Output, layout.AdviceDir, err)
}

func pull(ctx context.Context, opts PullOptions) (*PullResult, error) {
	log := logger(opts.Logger)
	if err := opts.Trust.Check(); err != nil {
		return nil, err
	}
	if opts.Client == nil {
		return nil, fmt.Errorf("pull: no registry client: %w", errdef.ErrUsage)
	}
	if err := checkPullOutput(opts.Output); err != nil {
		return nil, err
	}
	src, err := openRegistrySource(ctx, opts.Client, opts.Reference, opts.Trust, readCarry, nil, log)
	if err != nil {
		return nil, err
	}
	defer src.close()
	verified := false
	if !opts.Trust.Empty() {
		if _, err := src.verifySignature(ctx, opts.Trust); err != nil {
			return nil, err
		}
		verified = true
	}
	md, err := src.metadata(ctx)
	if err != nil {
		return nil, err
	}
	if err := md.checkStructure(ctx); err != nil {
		return nil, err
	}
	src.prefetchDocs(ctx, md)
	graph, err := pullGraph(ctx, md, src.name)
	if err != nil {
		return nil, err
	}
	stage, err := layout.Stage(opts.Output, opts.Force)
	if err != nil {
		return nil, err
	}
	defer stage.Abort()
	var jobs []transfer.Job
	for _, d := range graph {
		if bundle.IsManifestMediaType(d.MediaType) {
			data, err := md.Doc(ctx, d)
			if err != nil {
				return nil, err
			}
			if err := stage.PushBytes(ctx, d, data); err != nil {
				return nil, err
			}
			continue
		}
		jobs = append(jobs, transfer.Job{Desc: d, Src: src.fetcher(), Dst: stage})
	}
	stats, err := transfer.CopyBlobs(ctx, jobs, opts.Transfer)
	if err != nil {
		// Named by what it was read from, as sync and import REF name it.
		return nil, fmt.Errorf("%s: %w", opts.Reference, err)
	}
	if err := writeHumanView(ctx, stage, md); err != nil {
		return nil, err
	}
	left, damaged := src.filesLeft, damagedFiles(md)
	if damaged != nil {
		left = damaged
	}
	if err := writeCarriedFiles(stage, md, damaged == nil); err != nil {
		return nil, err
	}
	if err := stage.Commit(); err != nil {
		return nil, err
	}
	if err := stage.LeftBehind(); err != nil {
		log.Warn("the bundle replaced could not be removed", "err", err)
	}
	log.Info("pulled", "reference", opts.Reference, "path", opts.Output, "blobs", stats.Blobs)
	if left != nil {
		log.Warn("bundle files not carried: they are not the ones its signing vouches for; they stay behind", "files", left.Files, "reason", left.Reason)
	}
	return &PullResult{Path: opts.Output, Root: md.RootDesc.Digest, Version: md.Manifest.Release.Version,
		Generation: md.Manifest.MirrorGeneration, Verified: verified, Blobs: stats.Blobs, Bytes: stats.Bytes, FilesNotCarried: left}, nil
}

// damagedFiles says why a signed bundle's side files are not written,
// though they are its signer's: its public-key.pem has a damaged block
// (damagedKeyFile), and verify, push and pack would refuse the directory
// (exit 11). They are left behind, as import and sync leave them; nil if
// none is damaged.
func damagedFiles(md *metadata) *FilesNotCarried {
	pem, err := md.File(layout.PublicKeyFile)
	if err != nil {
		return nil
	}
	if _, err := md.File(layout.EnvelopeFile); err != nil {
		return nil
	}
	damaged := damagedKeyFile(pem)
	if damaged == nil {
		return nil
	}
	left := &FilesNotCarried{Reason: damaged.Error()}
	for _, name := range filesReferrerNames {
		if _, err := md.File(name); err == nil {
			left.Files = append(left.Files, name)
		}
	}
	return left
}

// pullGraph lists every descriptor below the root and the signature
// referrer, each once, but for the blobs a delta omits: the registry holds
// them under the delta's root (its base's import put them there), but the
// delta does not carry them, and its signed SHA256SUMS does not list
// them. The directory is the delta as create --base wrote it. A manifest
// that registry, the source's name, lacks is not found there (exit 1), as
// in a sync (placementOptions.registry).
func pullGraph(ctx context.Context, md *metadata, registry string) ([]ocispec.Descriptor, error) {
	roots := []ocispec.Descriptor{md.RootDesc}
	if sig, ok, err := md.signatureReferrer(ctx); err != nil {
		return nil, err
	} else if ok {
		roots = append(roots, sig)
	}
	p := newPlacement("")
	p.registry = registry
	var manifests []manifestPlace
	g := newGraphReader(md.Doc, false)
	for _, r := range roots {
		if err := p.addGraph(ctx, g, "", r, &manifests); err != nil {
			return nil, err
		}
	}
	var out []ocispec.Descriptor
	for _, m := range manifests {
		out = append(out, m.desc)
	}
	omitted := md.Manifest.OmittedSet()
	for _, b := range p.blobs {
		if !omitted[b.desc.Digest] {
			out = append(out, b.desc)
		}
	}
	return out, nil
}

// writeHumanView writes manifest.json, advisories/, scripts/ and docs/ from
// their blobs, as create lays them out; a delta's omitted files are left
// out, as create --base leaves them.
func writeHumanView(ctx context.Context, stage *layout.Staging, md *metadata) error {
	if err := stage.LinkFile(ctx, layout.ManifestFile, ocispec.Descriptor{Digest: md.ManifestDesc.Digest, Size: md.ManifestDesc.Size}, 0o644); err != nil {
		return err
	}
	omitted := md.Manifest.OmittedSet()
	for _, f := range md.Manifest.HumanView() {
		if omitted[f.Digest] {
			continue
		}
		perm := os.FileMode(0o644)
		if strings.HasPrefix(f.Path, "scripts/") {
			perm = 0o755
		}
		if err := stage.LinkFile(ctx, f.Path, ocispec.Descriptor{Digest: f.Digest, Size: f.Size}, perm); err != nil {
			return err
		}
	}
	return nil
}

// writeCarriedFiles writes the envelope, the files referrer's files (with
// carry), index.json and SHA256SUMS (the carried one, else a new one).
func writeCarriedFiles(stage *layout.Staging, md *metadata, carry bool) error {
	idx := LayoutIndex(md.Manifest, md.RootDesc)
	for _, d := range md.signatures {
		idx.Manifests = append(idx.Manifests, ocispec.Descriptor{MediaType: d.MediaType, ArtifactType: d.ArtifactType, Digest: d.Digest, Size: d.Size})
	}
	if err := stage.WriteIndex(idx); err != nil {
		return err
	}
	names := []string{layout.EnvelopeFile}
	if carry {
		names = append(names, filesReferrerNames...)
	}
	for _, name := range names {
		data, err := md.File(name)
		if err != nil {
			continue
		}
		if err := stage.WriteFile(name, data, 0o644); err != nil {
			return err
		}
	}
	if _, err := md.File(layout.ChecksumsFile); err != nil || !carry {
		if _, err := stage.WriteChecksums(true); err != nil {
			return err
		}
	}
	return nil
}

// hostPort is the first part of a registry reference with a port,
// HOST:PORT or [IPv6]:PORT.
var hostPort = regexp.MustCompile(`^([A-Za-z0-9.-]+|\[[0-9A-Fa-f:.]+\]):[0-9]+$`)

// checkPullOutput refuses a bundle directory not there yet that begins
// with HOST:PORT/: pull SRC DST, meaning sync, wrote the bundle into
// ./HOST:PORT/REPO and said "Pulled … into HOST:PORT/REPO", read as if the
// registry held it. ./ before it names such a directory.
func checkPullOutput(out string) error {
	first, _, slash := strings.Cut(out, "/")
	if !hostPort.MatchString(first) {
		return nil
	}
	// With no / after it, only a registry's own name reads as one
	// (localhost:5000, registry.internal:5000), as docker reads a first
	// part holding a . or naming localhost as a host: mirror-bundle:2025
	// is a directory.
	if host := first[:strings.LastIndex(first, ":")]; !slash && host != "localhost" && !strings.ContainsAny(host, ".[") {
		return nil
	}
	if _, err := os.Lstat(out); !errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	return fmt.Errorf("pull: %q reads as a registry reference (HOST:PORT/…), not a directory: stella mirror sync copies a bundle between registries (for a directory so named, give ./%s): %w", out, out, errdef.ErrUsage)
}
