package mirror

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"

	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	"golang.org/x/sync/errgroup"

	"github.com/stellaops/mirror/pkg/bundle"
	"github.com/stellaops/mirror/pkg/errdef"
	"github.com/stellaops/mirror/pkg/layout"
	"github.com/stellaops/mirror/pkg/serve"
	"github.com/stellaops/mirror/pkg/transfer"
)

// servedGraph walks everything a served bundle holds, each manifest read
// and verified against its descriptor: the root and all below it (metadata
// manifest, images, their referrers), and the signature referrers of the
// root that index.json lists.
func servedGraph(ctx context.Context, store servedStore, md *metadata) (*transfer.Graph, []ocispec.Descriptor, error) {
	g := transfer.NewGraph()
	if err := g.Walk(ctx, store, md.RootDesc); err != nil {
		return nil, nil, err
	}
	sigs, err := signatureReferrers(ctx, md)
	if err != nil {
		return nil, nil, err
	}
	for _, s := range sigs {
		if err := g.Walk(ctx, store, s); err != nil {
			return nil, nil, err
		}
	}
	return g, sigs, nil
}

// signatureReferrers returns the manifests of index.json whose subject is
// the root: the DSSE referrer. Each must carry exactly the envelope in
// manifest.dsse, the one whose signature was verified, so that what is
// served as the bundle's signature is what was checked. A manifest of
// index.json with another subject is refused; one without a subject is an
// image, served from the root's graph.
func signatureReferrers(ctx context.Context, md *metadata) ([]ocispec.Descriptor, error) {
	var out []ocispec.Descriptor
	envelope, envErr := md.File(layout.EnvelopeFile)
	for _, d := range md.Index.Manifests {
		if d.Digest == md.RootDesc.Digest || !bundle.IsManifestMediaType(d.MediaType) {
			continue
		}
		data, err := md.Doc(ctx, d)
		if err != nil {
			return nil, fmt.Errorf("%s: %s: %w", layout.IndexFile, d.Digest, err)
		}
		subject := bundle.SubjectOf(data)
		if subject == "" {
			continue
		}
		if subject != md.RootDesc.Digest {
			return nil, fmt.Errorf("%s lists %s, whose subject %s is not the bundle root: %w", layout.IndexFile, d.Digest, subject, errdef.ErrMalformed)
		}
		var man ocispec.Manifest
		if err := json.Unmarshal(data, &man); err != nil {
			return nil, fmt.Errorf("signature referrer %s: %v: %w", d.Digest, err, errdef.ErrMalformed)
		}
		if man.ArtifactType != bundle.ArtifactTypeDSSE || len(man.Layers) != 1 || envErr != nil ||
			man.Layers[0].Digest != digest.FromBytes(envelope) || man.Layers[0].Size != int64(len(envelope)) {
			return nil, fmt.Errorf("signature referrer %s does not carry %s: %w", d.Digest, layout.EnvelopeFile, errdef.ErrSignature)
		}
		out = append(out, ocispec.Descriptor{MediaType: d.MediaType, Digest: d.Digest, Size: d.Size})
	}
	return out, nil
}

// blobBufferSize is each hashing worker's read buffer: concurrency × this
// is all the memory verification takes, whatever the blobs' sizes.
const blobBufferSize = 256 << 10

// verifyBlobs checks every blob: first that each is present with its
// descriptor's size (cheap, so a missing blob fails at once), then its
// SHA-256, several at a time, in the order they lie on the media.
func verifyBlobs(ctx context.Context, store servedStore, blobs []ocispec.Descriptor, limit int) error {
	for _, d := range blobs {
		b, err := store.OpenBlob(ctx, d)
		if errors.Is(err, errdef.ErrNotFound) {
			return fmt.Errorf("blob %s is missing: %w", d.Digest, errdef.ErrMalformed)
		}
		if err != nil {
			return err
		}
		b.Close()
	}
	ordered := slices.Clone(blobs)
	slices.SortStableFunc(ordered, func(a, b ocispec.Descriptor) int { return cmp.Compare(store.offset(a), store.offset(b)) })
	g, ctx := errgroup.WithContext(ctx)
	g.SetLimit(limit)
	for _, d := range ordered {
		g.Go(func() error { return hashBlob(ctx, store, d) })
	}
	return g.Wait()
}

// hashBlob reads one blob through the store's verifying reader.
func hashBlob(ctx context.Context, store servedStore, d ocispec.Descriptor) error {
	rc, err := store.Fetch(ctx, d)
	if err != nil {
		return err
	}
	defer rc.Close()
	buf := make([]byte, min(d.Size+1, blobBufferSize))
	for {
		if err := ctx.Err(); err != nil {
			return err
		}
		_, err := rc.Read(buf)
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return fmt.Errorf("blob %s: %w", d.Digest, err)
		}
	}
}

// servedContent places the bundle's content in repositories: the bundle
// under bundleRepo, tagged with the release version, with its signature
// referrers; each image under its mapped repository (bundle.MapRepository,
// as import names it) with its tags and referrers.
func servedContent(store servedStore, md *metadata, g *transfer.Graph, sigs []ocispec.Descriptor, bundleRepo, prefix string) (*serve.Content, error) {
	c := serve.NewContent(store)
	for _, n := range g.Nodes {
		if err := c.AddManifest(n.Descriptor, n.Bytes); err != nil {
			return nil, err
		}
	}
	if !bundle.ValidRepository(bundleRepo) {
		return nil, fmt.Errorf("bundle repository %q is not a valid repository name: %w", bundleRepo, errdef.ErrUsage)
	}
	root := md.RootDesc.Digest
	if err := c.Include(bundleRepo, root); err != nil {
		return nil, err
	}
	if err := c.Tag(bundleRepo, md.Manifest.Release.Version, root); err != nil {
		return nil, err
	}
	for _, s := range sigs {
		if err := c.AddReferrer(bundleRepo, s.Digest); err != nil {
			return nil, err
		}
	}
	for _, img := range md.Manifest.Images {
		repo := bundle.MapRepository(prefix, img.Repository)
		if !bundle.ValidRepository(repo) {
			return nil, fmt.Errorf("repository %q (prefix %q) is not a valid repository name: %w", repo, prefix, errdef.ErrUsage)
		}
		if err := c.Include(repo, img.Digest); err != nil {
			return nil, err
		}
		for _, t := range img.Tags {
			if err := c.Tag(repo, t, img.Digest); err != nil {
				return nil, err
			}
		}
		for _, r := range img.Referrers {
			n, ok := g.Node(r.Digest)
			if !ok {
				return nil, fmt.Errorf("referrer %s of %s is not in the bundle: %w", r.Digest, img.Repository, errdef.ErrMalformed)
			}
			if got := bundle.SubjectOf(n.Bytes); got != r.Subject {
				return nil, fmt.Errorf("referrer %s has subject %q, manifest.json says %s: %w", r.Digest, got, r.Subject, errdef.ErrMalformed)
			}
			if err := c.AddReferrer(repo, r.Digest); err != nil {
				return nil, err
			}
		}
	}
	return c, nil
}
