package mirror

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"sort"
	"strings"

	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	"oras.land/oras-go/v2/content"
	oremote "oras.land/oras-go/v2/registry/remote"

	"github.com/stellaops/mirror/internal/errgroup"
	"github.com/stellaops/mirror/pkg/bundle"
	"github.com/stellaops/mirror/pkg/errdef"
	"github.com/stellaops/mirror/pkg/release"
	"github.com/stellaops/mirror/pkg/remote"
	"github.com/stellaops/mirror/pkg/transfer"
)

// sourceImage is one image of a release, resolved in its source registry:
// its root descriptor, every manifest below it (verified, in memory), and
// the referrers attached to it.
type sourceImage struct {
	release.Image
	repo *oremote.Repository
	root ocispec.Descriptor
	// sourceDigest is the digest the reference resolved to; it differs from
	// root's when --platform picked one manifest out of an index.
	sourceDigest digest.Digest
	graph        *transfer.Graph
	referrers    []transfer.Referrer
	// leftTags are the tags of cosign's tag scheme found for the index
	// --platform left out (sourceDigest): they sign content the bundle does
	// not hold, so they are not carried.
	leftTags []string
	// configs are the configs of the graph's image manifests (the first
	// child of each), and foreign its non-distributable layers: what is
	// read of the nodes' children once the graph is walked (shed).
	configs []digest.Digest
	foreign []nonDistributable
}

// nonDistributable is a non-distributable layer of an image, and the manifest
// that names it.
type nonDistributable struct {
	desc     ocispec.Descriptor
	manifest digest.Digest
}

// shed drops, once the image is resolved, what only its walks needed: the
// children of each node (every descriptor of the image a second time, with
// its platform and annotations), of which configs and foreign keep what is
// read later, the graph's lookups, and its hold on the release's document
// budget (a lookup and a channel a document, for images yet to be walked). Every image of a release is held
// from here until manifest.json is written: for thousands of images, these
// were a quarter of what create held.
func (si *sourceImage) shed() {
	for i := range si.graph.Nodes {
		n := &si.graph.Nodes[i]
		if !bundle.IsIndexMediaType(n.Descriptor.MediaType) && len(n.Children) > 0 {
			si.configs = append(si.configs, n.Children[0].Digest)
		}
		for _, c := range n.Children {
			if bundle.IsNonDistributable(c.MediaType) {
				si.foreign = append(si.foreign, nonDistributable{c, n.Descriptor.Digest})
			}
		}
		n.Children = nil
	}
	si.graph.Fetch = nil
	si.graph.Seal()
}

// resolveImages resolves every image of the release in parallel. Each
// reference is resolved exactly once.
func resolveImages(ctx context.Context, client *remote.Client, images []release.Image, opts *CreateOptions) ([]*sourceImage, error) {
	out := make([]*sourceImage, len(images))
	budget := newDocBudget(opts.ReleaseFile, opts.Base == "")
	lookups := newCosignLookups(concurrency(opts.Transfer.Concurrency))
	g, ctx := errgroup.WithContext(ctx)
	g.SetLimit(concurrency(opts.Transfer.Concurrency))
	for i, img := range images {
		g.Go(func() error {
			si, err := resolveImage(ctx, client, img, opts, budget, lookups)
			if err != nil {
				return fmt.Errorf("%s: %w", img.Where(opts.ReleaseFile), err)
			}
			out[i] = si
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		return nil, err
	}
	return out, nil
}

// resolveMediaTypes is what create accepts when resolving an image: the
// manifest types oras-go asks for, and Docker's schema 1 ones, so that a
// registry holding a schema 1 image says so rather than "not found" (a
// registry answers 404 where it holds no type the client accepts), and
// create refuses it by name. Schema 1 goes last and weighs less (q=0.5):
// a registry that converts a tag's manifest for clients that prefer
// schema 1 (choosing by weight, and where weights tie by its own order)
// serves an image held as schema 2 or OCI as it is, not a conversion that
// create would refuse.
var resolveMediaTypes = []string{
	bundle.MediaTypeDockerManifest, bundle.MediaTypeDockerManifestList,
	ocispec.MediaTypeImageManifest, ocispec.MediaTypeImageIndex,
	bundle.MediaTypeArtifactManifest,
	bundle.MediaTypeDockerSchema1Signed + ";q=0.5", bundle.MediaTypeDockerSchema1 + ";q=0.5",
}

func resolveImage(ctx context.Context, client *remote.Client, img release.Image, opts *CreateOptions, budget *docBudget, lookups *cosignLookups) (*sourceImage, error) {
	repo, err := client.Repository(img.Ref.Name())
	if err != nil {
		return nil, err
	}
	repo.ManifestMediaTypes = resolveMediaTypes
	ref := img.Ref.Digest.String()
	if ref == "" {
		ref = img.Ref.Tag
	}
	// One GET resolves the reference and brings the root's body, which
	// the walk below reads: a HEAD first would cost a round trip more.
	root, body, err := repo.FetchReference(ctx, ref)
	if err != nil {
		return nil, remote.Classify(err)
	}
	held := &heldRoot{desc: root, src: repo, body: body}
	defer held.Close()
	if img.Ref.Digest != "" && root.Digest != img.Ref.Digest {
		return nil, fmt.Errorf("registry resolved %s to %s: %w", img.Ref.Digest, root.Digest, errdef.ErrDigestMismatch)
	}
	if bundle.IsDockerSchema1(root.MediaType) {
		return nil, fmt.Errorf("%s is a Docker schema 1 manifest (%s), which OCI registries refuse and a bundle cannot carry unchanged: convert the image to schema 2 or OCI (skopeo copy --format v2s2 docker://SRC docker://DST), then pin the new digest in the release: %w",
			root.Digest, root.MediaType, errdef.ErrMalformed)
	}
	if !bundle.IsManifestMediaType(root.MediaType) {
		return nil, fmt.Errorf("%s: media type %q is not an image manifest or index: %w", root.Digest, root.MediaType, errdef.ErrMalformed)
	}
	sourceDigest := root.Digest
	if opts.Platform != "" && bundle.IsIndexMediaType(root.MediaType) {
		// The index as the refusals of --platform name it: by its
		// digest, unless the release's reference, which starts the
		// message, pins it by that digest already.
		index := "index " + root.Digest.String()
		if img.Ref.Digest == root.Digest {
			index = "the index"
		}
		if root, err = selectPlatform(ctx, held, root, opts.Platform, index); err != nil {
			return nil, bundle.PinnedOnce(err, img.Ref.Digest)
		}
	}
	si := &sourceImage{Image: img, repo: repo, root: root, sourceDigest: sourceDigest, graph: transfer.NewGraph()}
	si.graph.Fetch = budget.fetch
	if err := si.graph.Walk(ctx, held, root); err != nil {
		// A refusal of nesting names the index pinned, where the
		// reference (which starts the message) gives its digest, once.
		return nil, remote.Classify(bundle.PinnedOnce(err, img.Ref.Digest))
	}
	if !opts.NoReferrers {
		// The referrers of every manifest of the image, not only of its
		// root: a signature or SBOM attached to one platform's manifest
		// (cosign sign --recursive, per-platform attestations) belongs to
		// the image as much as one on its index, and --platform, whose
		// root is that manifest, carries it.
		manifests := append([]transfer.Node(nil), si.graph.Nodes...)
		descs := make([]ocispec.Descriptor, len(manifests))
		for i, n := range manifests {
			descs[i] = n.Descriptor
		}
		refs, err := si.graph.WalkReferrersOf(ctx, repo, descs) // listed together
		if err != nil {
			return nil, referrerWalkError(ctx, repo, img.Ref.Name(), err)
		}
		si.referrers = append(si.referrers, refs...)
		if err := si.carryCosignTags(ctx, lookups, subjects(manifests)); err != nil {
			return nil, err
		}
		if sourceDigest != root.Digest { // --platform: the pinned index's
			left, err := lookups.find(ctx, repo, []digest.Digest{sourceDigest})
			if err != nil {
				return nil, err
			}
			for _, r := range left {
				si.leftTags = append(si.leftTags, r.Tag)
			}
		}
	}
	si.shed()
	return si, nil
}

func subjects(nodes []transfer.Node) []digest.Digest {
	out := make([]digest.Digest, len(nodes))
	for i, n := range nodes {
		out[i] = n.Descriptor.Digest
	}
	return out
}

// checkNonDistributable refuses an image with a non-distributable (foreign)
// layer that its source repository does not serve, unless a delta's base
// holds it: a bundle carries every layer's bytes, since the far side cannot
// reach the layer's urls, and the fetch would otherwise fail later with no
// word of which image or why. One HEAD a foreign layer; images without
// them cost nothing.
func checkNonDistributable(ctx context.Context, img *sourceImage, base *baseInfo) error {
	for _, f := range img.foreign {
		c := f.desc
		if base.omit(c) {
			continue
		}
		ok, err := img.repo.Blobs().Exists(ctx, c)
		if err != nil {
			return fmt.Errorf("layer %s of %s: %w", c.Digest, f.manifest, remote.Classify(err))
		}
		if !ok {
			from := "no urls"
			if len(c.URLs) > 0 {
				from = "urls " + c.URLs[0] // one is enough to say where it lives
			}
			name := img.repo.Reference.Registry + "/" + img.repo.Reference.Repository
			return fmt.Errorf("layer %s of %s is a non-distributable (foreign) layer, %s, that %s does not serve (%s): a bundle carries every layer, since the far side cannot reach those urls; push the layer into %s, or leave the image out of the release: %w",
				c.Digest, f.manifest, c.MediaType, name, from, name, errdef.ErrNotFound)
		}
	}
	return nil
}

// selectPlatform picks the manifest for one platform out of an index,
// which its refusals call name, as pickPlatform does.
func selectPlatform(ctx context.Context, repo content.Fetcher, index ocispec.Descriptor, want, name string) (ocispec.Descriptor, error) {
	p, err := ParsePlatform(want)
	if err != nil {
		return ocispec.Descriptor{}, err
	}
	s := &platformSearch{repo: repo, want: p, top: index.Digest, seen: map[digest.Digest]bool{}}
	if err := s.find(ctx, index, 0); err != nil {
		return ocispec.Descriptor{}, err
	}
	return pickPlatform(s.matches, FormatPlatform(p), p.OSVersion != "", name)
}

// platformSearch looks through an index for the manifests of one platform.
type platformSearch struct {
	repo    content.Fetcher
	want    ocispec.Platform
	top     digest.Digest   // the index searched, as pinned
	matches []platformMatch // those that fit want, each once, as listed first
	seen    map[digest.Digest]bool
}

// find looks through index, and through each child index that names no
// platform of its own, as containerd does (OCI lets indexes nest): each
// index once, down to bundle.MaxDepth levels, as deep as the walk of an
// image goes, and refused past it in the walk's words (bundle.NestTooDeep).
// depth counts levels below the index searched, as pinned, which a bundle
// lists one level below its root.
func (s *platformSearch) find(ctx context.Context, index ocispec.Descriptor, depth int) error {
	if depth+1 > bundle.MaxDepth {
		return bundle.NestTooDeep(index, depth, s.top)
	}
	s.seen[index.Digest] = true
	data, err := transfer.FetchBytes(ctx, s.repo, index)
	if err != nil {
		return remote.Classify(err)
	}
	// An entry that is no manifest or index is passed over by its own
	// media type: the same digest may be listed again as a manifest.
	entries, err := bundle.ListedManifests(index, data)
	if err != nil {
		return err
	}
	p := s.want
	for _, c := range entries {
		child := ocispec.Descriptor{MediaType: c.MediaType, Digest: c.Digest, Size: c.Size}
		if c.Platform == nil && bundle.IsIndexMediaType(c.MediaType) {
			if !s.seen[c.Digest] {
				if err := s.find(ctx, child, depth+1); err != nil {
					return err
				}
			}
			continue
		}
		if c.Platform == nil && bundle.IsManifestMediaType(c.MediaType) && !s.seen[c.Digest] {
			// An entry naming no platform has its manifest's, in the
			// config, as containerd reads it.
			s.seen[c.Digest] = true
			data, err := transfer.FetchBytes(ctx, s.repo, child)
			if err != nil {
				return remote.Classify(err)
			}
			cp, ok, err := configPlatform(c.Digest, data, func(d ocispec.Descriptor) ([]byte, error) {
				data, err := transfer.FetchBytes(ctx, s.repo, d)
				return data, remote.Classify(err)
			})
			if err != nil {
				return err
			}
			if ok {
				c.Platform = &cp
			}
		}
		if c.Platform == nil {
			continue
		}
		fit := platformFit(p, *c.Platform)
		if fit < 0 {
			continue
		}
		// A manifest listed twice is one choice, at the better of its
		// two fits.
		m := platformMatch{desc: child, platform: *c.Platform, fit: fit}
		if i := slices.IndexFunc(s.matches, func(x platformMatch) bool { return x.desc.Digest == c.Digest }); i < 0 {
			s.matches = append(s.matches, m)
		} else if fit < s.matches[i].fit {
			s.matches[i] = m
		}
	}
	return nil
}

// platformsOf lists the platforms of an image: an index's children's
// platforms (attestation manifests, "unknown/unknown", left out), with
// those of each index nested in it that names none of its own, looked up
// by node in the image's graph, or the os/architecture of a manifest's
// config. A config that cannot be read is an error: manifest.json must not
// depend on whether a source answered.
func platformsOf(root transfer.Node, node func(digest.Digest) (transfer.Node, bool), config func(ocispec.Descriptor) ([]byte, error)) ([]string, error) {
	var out []string
	seen := map[string]bool{}
	add := func(p ocispec.Platform) {
		if p.OS == "" || p.OS == "unknown" || p.Architecture == "" {
			return
		}
		s := FormatPlatform(p)
		if !seen[s] {
			seen[s] = true
			out = append(out, s)
		}
	}
	if bundle.IsIndexMediaType(root.Descriptor.MediaType) {
		read := map[digest.Digest]bool{} // each nested index or unnamed manifest once
		var walk func(data []byte) error
		walk = func(data []byte) error {
			var idx ocispec.Index
			if json.Unmarshal(data, &idx) != nil {
				return nil
			}
			for _, c := range idx.Manifests {
				if c.Platform != nil {
					add(*c.Platform)
					continue
				}
				n, ok := node(c.Digest)
				if read[c.Digest] || !ok {
					continue
				}
				read[c.Digest] = true
				if bundle.IsIndexMediaType(c.MediaType) {
					if err := walk(n.Bytes); err != nil { // the walk of the graph bounded its depth
						return err
					}
					continue
				}
				// An entry naming no platform has its manifest's, in the
				// config, as containerd reads it.
				p, ok, err := configPlatform(c.Digest, n.Bytes, config)
				if err != nil {
					return err
				}
				if ok {
					add(p)
				}
			}
			return nil
		}
		return out, walk(root.Bytes)
	}
	p, ok, err := configPlatform(root.Descriptor.Digest, root.Bytes, config)
	if ok {
		add(p)
	}
	return out, err
}

// configPlatform reads the platform of the image manifest data (of
// digest dg) from its config, fetched by config: ok is false for a
// manifest whose config is no image's (an artifact's, a Helm chart's).
func configPlatform(dg digest.Digest, data []byte, config func(ocispec.Descriptor) ([]byte, error)) (p ocispec.Platform, ok bool, err error) {
	var man ocispec.Manifest
	if json.Unmarshal(data, &man) != nil {
		return p, false, nil
	}
	if man.Config.MediaType != ocispec.MediaTypeImageConfig && man.Config.MediaType != "application/vnd.docker.container.image.v1+json" {
		return p, false, nil
	}
	cfg, err := config(man.Config)
	if err != nil {
		return p, false, fmt.Errorf("config %s of %s: %w", man.Config.Digest, dg, err)
	}
	return p, json.Unmarshal(cfg, &p) == nil, nil
}

// sortImages orders images by target repository then digest, drops exact
// duplicates, and refuses two different images for one repository: both
// would be tagged with the release version there.
func sortImages(images []*sourceImage, releaseFile string) ([]*sourceImage, error) {
	sort.SliceStable(images, func(i, j int) bool {
		a, b := images[i], images[j]
		if a.Ref.Repository != b.Ref.Repository {
			return a.Ref.Repository < b.Ref.Repository
		}
		return a.root.Digest < b.root.Digest
	})
	var out []*sourceImage
	for _, img := range images {
		if n := len(out); n > 0 && out[n-1].Ref.Repository == img.Ref.Repository {
			prev := out[n-1]
			if prev.root.Digest == img.root.Digest {
				continue
			}
			return nil, fmt.Errorf("%s:%d and %s:%d name different images (%s, %s) for repository %s: %w",
				releaseFile, prev.Line, releaseFile, img.Line, prev.root.Digest, img.root.Digest, img.Ref.Repository, errdef.ErrMalformed)
		}
		out = append(out, img)
	}
	return out, nil
}

// manifestImage is the manifest.json entry of a resolved image.
func manifestImage(img *sourceImage, version string, platforms []string) bundle.Image {
	tags := []string{version}
	if img.Ref.Tag != "" && img.Ref.Tag != version {
		tags = append(tags, img.Ref.Tag)
	}
	source := img.Ref
	source.Digest = img.sourceDigest
	entry := bundle.Image{
		Name:       img.Name,
		Source:     source.String(),
		Repository: img.Ref.Repository,
		Tags:       tags,
		Digest:     img.root.Digest,
		MediaType:  img.root.MediaType,
		Size:       img.root.Size,
		Platforms:  platforms,
	}
	for _, r := range img.referrers {
		entry.Referrers = append(entry.Referrers, bundle.Referrer{
			Digest:       r.Descriptor.Digest,
			MediaType:    r.Descriptor.MediaType,
			ArtifactType: r.Descriptor.ArtifactType,
			Size:         r.Descriptor.Size,
			Subject:      r.Subject,
			Tag:          r.Tag,
		})
	}
	return entry
}

// ParsePlatform parses "os/arch[/variant][:osversion]" (the os.version as
// crane and containerd take it, which tells apart the manifests of a
// Windows image list), spelled as containerd's platforms.Normalize spells
// it: Linux/x86_64 is linux/amd64, linux/armhf linux/arm/v7 (see
// spelledPlatform). One holding an @ is refused, named with all up to it
// blanked: credentials given by mistake.
func ParsePlatform(s string) (ocispec.Platform, error) {
	rest, osVersion, withVersion := strings.Cut(s, ":")
	parts := strings.Split(rest, "/")
	if len(parts) < 2 || len(parts) > 3 || parts[0] == "" || parts[1] == "" || strings.Contains(s, "@") || (withVersion && osVersion == "") {
		return ocispec.Platform{}, fmt.Errorf("platform %q is not os/arch[/variant][:osversion]: %w", withoutAt(s), errdef.ErrUsage)
	}
	p := ocispec.Platform{OS: parts[0], Architecture: parts[1], OSVersion: osVersion}
	if len(parts) == 3 {
		p.Variant = parts[2]
	}
	return spelledPlatform(p), nil
}

// FormatPlatform renders a platform as "os/arch[/variant][:osversion]", as
// ParsePlatform reads it: the os.version tells apart the manifests of a
// Windows image list, one for each Windows release.
func FormatPlatform(p ocispec.Platform) string {
	s := p.OS + "/" + p.Architecture
	if p.Variant != "" {
		s += "/" + p.Variant
	}
	if p.OSVersion != "" {
		s += ":" + p.OSVersion
	}
	return s
}
