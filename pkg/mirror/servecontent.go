package mirror

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"slices"

	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/stellaops/mirror/internal/errgroup"
	"github.com/stellaops/mirror/pkg/errdef"
	"github.com/stellaops/mirror/pkg/serve"
)

// blobBufferSize is each hashing worker's read buffer: concurrency × this
// is all the memory verification takes, whatever the blobs' sizes.
const blobBufferSize = 256 << 10

// verifyBlobs checks every blob of the placement: first that each is
// present with its descriptor's size (cheap, so a missing blob fails at
// once), then its SHA-256, several at a time, in the order they lie on the
// media.
func verifyBlobs(ctx context.Context, store servedStore, blobs []*blobPlace, limit int) error {
	descs := make([]ocispec.Descriptor, 0, len(blobs))
	for _, b := range blobs {
		descs = append(descs, b.desc)
	}
	for _, d := range descs {
		b, err := store.OpenBlob(ctx, d)
		if errors.Is(err, errdef.ErrNotFound) {
			// As verify and import report it: the bundle does not hold
			// what was signed (exit 2).
			return fmt.Errorf("blob %s is missing: %w", d.Digest, errdef.ErrDigestMismatch)
		}
		if err != nil {
			return err
		}
		b.Close()
	}
	slices.SortStableFunc(descs, func(a, b ocispec.Descriptor) int { return cmp.Compare(store.offset(a), store.offset(b)) })
	g, ctx := errgroup.WithContext(ctx)
	g.SetLimit(limit)
	for _, d := range descs {
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
			return aboutDigest("blob", d.Digest, err)
		}
	}
}

// servedContent replays the placement import would write into a Content:
// every manifest (verified when the placement read it) in each repository
// it goes to, which lists the ones with a subject as referrers there, the
// blobs the placement holds in memory (the files referrer's), and the
// tags. It also returns the unique manifests.
func servedContent(store servedStore, md *metadata, plan *placement) (*serve.Content, map[digest.Digest]ocispec.Descriptor, error) {
	c := serve.NewContent(store)
	for _, mb := range plan.memBlobs {
		data, err := mb.bytes(md)
		if err != nil {
			return nil, nil, err
		}
		if err := c.AddBlob(mb.desc, data); err != nil {
			return nil, nil, err
		}
	}
	phases := [][]manifestPlace{plan.images, plan.referrers, plan.root, plan.signature, plan.files}
	manifests := map[digest.Digest]ocispec.Descriptor{}
	for _, phase := range phases {
		for _, mp := range phase {
			if err := c.AddManifest(mp.desc, mp.data); err != nil {
				return nil, nil, err
			}
			manifests[mp.desc.Digest] = mp.desc
		}
	}
	for _, phase := range phases {
		for _, mp := range phase {
			if err := c.Include(mp.repo, mp.desc.Digest); err != nil {
				return nil, nil, err
			}
		}
	}
	for _, t := range plan.tags {
		if err := c.Tag(t.repo, t.tag, t.desc.Digest); err != nil {
			return nil, nil, err
		}
	}
	return c, manifests, nil
}
