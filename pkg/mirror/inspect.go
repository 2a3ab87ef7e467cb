package mirror

import (
	"context"
	"slices"
	"time"

	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/stellaops/mirror/pkg/bundle"
	"github.com/stellaops/mirror/pkg/layout"
	"github.com/stellaops/mirror/pkg/remote"
)

// InspectResult describes a bundle: what it holds, and whether its
// structure is sound.
type InspectResult struct {
	Path       string        `json:"path"`
	Root       digest.Digest `json:"root"`
	BundleID   string        `json:"bundleId"`
	Version    string        `json:"version"`
	Channel    string        `json:"channel,omitempty"`
	Generation int64         `json:"mirrorGeneration"`
	CreatedAt  time.Time     `json:"createdAt"`
	ExpiresAt  time.Time     `json:"expiresAt"`
	Expired    bool          `json:"expired"`
	Base       *bundle.Base  `json:"base,omitempty"`
	// SchemaVersion is manifest.json's: the format the bundle is in.
	// Producer is the tool (and its version) that made it.
	SchemaVersion int             `json:"schemaVersion"`
	Producer      bundle.Producer `json:"producer"`
	// Signed reports whether the bundle carries manifest.dsse; whether it
	// verifies is for verify to say, with a trusted key.
	Signed bool `json:"signed"`
	// Signers are the trusted keys whose signatures verified, with --key.
	Signers    []Signer       `json:"signers,omitempty"`
	Images     []InspectImage `json:"images"`
	Advisories []bundle.File  `json:"advisories"`
	Files      []bundle.File  `json:"files"`
	Totals     InspectTotals  `json:"totals"`
}

// InspectImage is one image of a bundle.
type InspectImage struct {
	Name       string        `json:"name"`
	Source     string        `json:"source"`
	Repository string        `json:"repository"`
	Tags       []string      `json:"tags"`
	Digest     digest.Digest `json:"digest"`
	MediaType  string        `json:"mediaType"`
	Platforms  []string      `json:"platforms,omitempty"`
	Referrers  int           `json:"referrers"`
	// CosignTags are the tags of cosign's tag scheme among the referrers
	// (sha256-<hex>.sig, .att, .sbom), sorted: import writes them beside
	// the image, for cosign verify.
	CosignTags []string `json:"cosignTags,omitempty"`
	// Size is the total of the image's manifests and blobs, shared ones
	// included.
	Size int64 `json:"size"`
}

// InspectTotals sum up a bundle.
type InspectTotals struct {
	Images     int `json:"images"`
	Advisories int `json:"advisories"`
	// Blobs and Bytes count the unique content the bundle carries:
	// manifests, configs, layers, advisories, scripts and docs.
	Blobs int   `json:"blobs"`
	Bytes int64 `json:"bytes"`
	// Omitted counts the blobs of a delta bundle that its base holds and
	// it does not carry (not among Blobs).
	Omitted int `json:"omitted,omitempty"`
}

// Inspect reads a bundle directory or tar and describes it. It checks the
// bundle's structure (root against manifest.json, every manifest against
// its digest) but not the signature.
func Inspect(ctx context.Context, path string, now time.Time) (*InspectResult, error) {
	return InspectWith(ctx, InspectOptions{Source: path, Now: now})
}

// InspectOptions say what to inspect, and how far to check it.
type InspectOptions struct {
	// Source is a bundle directory, tar (or volume list), or, with Client, a
	// bundle in a registry (host/repo:tag or @digest).
	Source string
	// Trust, if not empty, must accept the signature (else the error wraps
	// errdef.ErrSignature); the result then says who signed.
	Trust TrustOptions
	// Now decides Expired; zero means the clock.
	Now    time.Time
	Client *remote.Client
}

// InspectWith is Inspect with options: a registry source, and the
// signature checked against trusted keys.
func InspectWith(ctx context.Context, opts InspectOptions) (*InspectResult, error) {
	if err := opts.Trust.Check(); err != nil {
		return nil, err
	}
	path, now := opts.Source, opts.Now
	if now.IsZero() {
		now = time.Now()
	}
	src, err := openAnySource(ctx, opts.Client, path, opts.Trust, readSigning, nil)
	if err != nil {
		return nil, err
	}
	defer src.close()
	var signers []Signer
	if !opts.Trust.Empty() {
		sig, err := src.verifySignature(ctx, opts.Trust)
		if err != nil {
			return nil, err
		}
		signers = sig.Signers
	}
	md, err := src.metadata(ctx)
	if err != nil {
		return nil, err
	}
	if err := md.checkStructure(ctx); err != nil {
		return nil, err
	}
	m := md.Manifest
	_, sigErr := md.File(layout.EnvelopeFile)
	res := &InspectResult{
		Path: path, Root: md.RootDesc.Digest, BundleID: m.BundleID,
		Version: m.Release.Version, Channel: m.Release.Channel, Generation: m.MirrorGeneration,
		CreatedAt: m.CreatedAt, ExpiresAt: m.ExpiresAt, Expired: now.After(m.ExpiresAt), Base: m.Base,
		SchemaVersion: m.SchemaVersion, Producer: m.Producer,
		Signed: sigErr == nil, Signers: signers, Advisories: m.Advisories, Files: m.Files,
	}
	all := map[digest.Digest]int64{}
	// Indexes images share are read and parsed once, not once an image.
	g := newGraphReader(md.Doc, false)
	root, err := md.root(ctx)
	if err != nil {
		return nil, err
	}
	metaDesc, _ := bundle.MetadataDescriptor(root)
	if err := sizeOf(ctx, g, metaDesc, all); err != nil {
		return nil, err
	}
	for _, img := range m.Images {
		own := map[digest.Digest]int64{}
		if err := sizeOf(ctx, g, ocispec.Descriptor{MediaType: img.MediaType, Digest: img.Digest, Size: img.Size}, own); err != nil {
			return nil, err
		}
		for _, r := range img.Referrers {
			if err := sizeOf(ctx, g, ocispec.Descriptor{MediaType: r.MediaType, Digest: r.Digest, Size: r.Size}, own); err != nil {
				return nil, err
			}
		}
		var tags []string
		for _, r := range img.Referrers {
			if r.Tag != "" {
				tags = append(tags, r.Tag)
			}
		}
		slices.Sort(tags)
		var size int64
		for dg, n := range own {
			size += n
			all[dg] = n
		}
		res.Images = append(res.Images, InspectImage{
			Name: img.Name, Source: img.Source, Repository: img.Repository, Tags: img.Tags,
			Digest: img.Digest, MediaType: img.MediaType, Platforms: img.Platforms,
			Referrers: len(img.Referrers), CosignTags: tags, Size: size,
		})
	}
	all[md.RootDesc.Digest] = md.RootDesc.Size
	omitted := m.OmittedSet()
	for dg, n := range all {
		if omitted[dg] {
			res.Totals.Omitted++
			continue
		}
		res.Totals.Blobs++
		res.Totals.Bytes += n
	}
	res.Totals.Images = len(m.Images)
	res.Totals.Advisories = len(m.Advisories)
	return res, nil
}

// sizeOf adds desc, depth levels below the root, and everything below it
// to sizes; indexes may nest bundle.MaxDepth deep, as import allows.
func sizeOf(ctx context.Context, g *graphReader, desc ocispec.Descriptor, sizes map[digest.Digest]int64) error {
	add := func(d ocispec.Descriptor) { sizes[d.Digest] = d.Size }
	return visitGraph(ctx, desc, g, add, func(d ocispec.Descriptor, _ []byte) { add(d) })
}
