package mirror

import (
	"context"
	"fmt"
	"slices"
	"sort"
	"sync"
	"time"

	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/stellaops/mirror/internal/errgroup"
	"github.com/stellaops/mirror/pkg/bundle"
	"github.com/stellaops/mirror/pkg/errdef"
	"github.com/stellaops/mirror/pkg/layout"
)

// A bundle root's referrers are weighed (each read, kept if it is a
// signature or files referrer of ours) as soon as they are listed, and the
// blobs of the one signing they make are fetched at once; chooseWeighed
// then chooses among them.

// weighedReferrers are the root's referrers weighed: those of ours, each a
// signature or files referrer, and the fetches fetchSigningAhead started.
type weighedReferrers struct {
	root  ocispec.Descriptor
	sigs  []*signatureRef
	files []*filesRef
	// stop ends the fetches started ahead and waits for them.
	stop func()
}

// maxKeptSignatureManifests bounds the bytes of the signature referrers'
// manifests weighReferrers keeps (signatureRef.manifest), all together: a
// real one is under a kilobyte, and anyone who may push can attach up to
// transfer.MaxReferrers of them.
const maxKeptSignatureManifests = 64 << 10

// weighReferrers reads each of the root's referrers (weighReferrer) and,
// where they make one signing, starts fetching its blobs
// (fetchSigningAhead). Nothing is chosen yet: the reader chooses once
// manifest.json is read too (chooseWeighed), and must call stop.
//
// A held root's signature referrers whose envelope is larger than one
// over manifest.json can be (maxHeldEnvelope) are skipped before any
// envelope is fetched: manifestSize tells manifest.json's size.
func (rs *registrySource) weighReferrers(ctx context.Context, root ocispec.Descriptor, referrers []ocispec.Descriptor, manifestSize <-chan int64) (*weighedReferrers, error) {
	w := &weighedReferrers{root: root}
	// The referrers are weighed peekReferrers at a time, each dropped once
	// weighed: a round trip for a push's pair, not one each, and at most
	// that many manifests' bytes (4 MiB each at most) held at once.
	var mu sync.Mutex
	var kept int
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(peekReferrers)
	seen := map[digest.Digest]bool{}
	for _, r := range referrers {
		if r.MediaType != ocispec.MediaTypeImageManifest || seen[r.Digest] {
			continue
		}
		seen[r.Digest] = true
		g.Go(func() error {
			sig, f, err := rs.weighReferrer(gctx, root, r)
			if err != nil || (sig == nil && f == nil) {
				return err
			}
			mu.Lock()
			defer mu.Unlock()
			if sig != nil {
				if kept += len(sig.manifest); kept > maxKeptSignatureManifests {
					sig.manifest = nil
				}
				w.sigs = append(w.sigs, sig)
			} else {
				w.files = append(w.files, f)
			}
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		return nil, err
	}
	if rs.heldRoot && len(w.sigs) > 0 {
		var size int64
		select {
		case size = <-manifestSize:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
		most := maxHeldEnvelope(int(min(max(size, 0), bundle.MaxManifestSize)))
		w.sigs = slices.DeleteFunc(w.sigs, func(sig *signatureRef) bool {
			if sig.envelope.Size > most {
				rs.skipReferrer(sig.desc.Digest, fmt.Errorf("envelope of %d bytes, more than the %d an envelope over this manifest.json can be: %w", sig.envelope.Size, most, errdef.ErrMalformed))
				return true
			}
			return false
		})
	}
	sort.Slice(w.sigs, func(i, j int) bool { return w.sigs[i].desc.Digest < w.sigs[j].desc.Digest })
	sort.Slice(w.files, func(i, j int) bool { return w.files[i].desc.Digest < w.files[j].desc.Digest })
	w.stop = rs.fetchSigningAhead(ctx, w.sigs, w.files)
	return w, nil
}

// peekReferrers is how many of the root's referrers weighReferrers weighs
// at once.
const peekReferrers = 4

// pendingBlob is a blob of the signing fetchSigningAhead fetches.
type pendingBlob struct {
	desc ocispec.Descriptor
	done chan struct{}
	data []byte // once done is closed
	err  error
}

// fetchSigningAhead starts the fetches of the blobs of the one signing the
// root's referrers make, as soon as they are weighed, where they make only
// one (as every bundle pushed once does): the envelope of the one
// signature referrer, and every file of the one files referrer. They used
// to wait for that referrer's SHA256SUMS, read first to pair it with the
// signature, then read again with the other files: a round trip more
// before the signing could be verified, on every read of a bundle from a
// registry, and SHA256SUMS fetched twice. rs.blob takes them from here
// while the signing is chosen; stop ends what is left of them and waits.
//
// Where the referrers make several signings, nothing is fetched ahead:
// anyone who may push can attach referrers, and the blobs of each are
// fetched only once chosen, one signing's at a time, as before. The files
// referrer's files are the head files weighReferrer keeps, one a name,
// each bounded as rs.blob bounds it.
func (rs *registrySource) fetchSigningAhead(ctx context.Context, sigs []*signatureRef, files []*filesRef) (stop func()) {
	var descs []ocispec.Descriptor
	if len(sigs) == 1 {
		descs = append(descs, sigs[0].envelope)
	}
	if len(sigs) <= 1 && len(files) == 1 {
		for _, l := range files[0].layers {
			descs = append(descs, l)
		}
	}
	if len(descs) == 0 {
		return func() {}
	}
	ctx, cancel := context.WithCancel(ctx)
	pending := map[digest.Digest]*pendingBlob{}
	var fetches sync.WaitGroup
	for _, d := range descs {
		if _, ok := pending[d.Digest]; ok {
			continue
		}
		p := &pendingBlob{desc: d, done: make(chan struct{})}
		pending[d.Digest] = p
		fetches.Go(func() {
			defer close(p.done)
			defer errdef.Recover(&p.err) // a bug: this blob's answer, not the run's end
			p.data, p.err = rs.fetchBlob(ctx, d)
		})
	}
	rs.mu.Lock()
	rs.signingBlobs = pending
	rs.mu.Unlock()
	return func() {
		cancel()
		fetches.Wait()
		rs.mu.Lock()
		rs.signingBlobs = nil
		rs.mu.Unlock()
	}
}

// weighReferrer reads one referrer r of root (peek: not held) and returns
// it as a signature or a files referrer of ours, or neither: one whose
// content is no signature or files of ours is skipped with a warning
// (skipReferrer), as is one listed that is not there; one of another kind
// or subject passed over in silence. An error is the registry's, which
// ends the choice.
func (rs *registrySource) weighReferrer(ctx context.Context, root ocispec.Descriptor, r ocispec.Descriptor) (*signatureRef, *filesRef, error) {
	data, err := rs.peek(ctx, plainDesc(r))
	// A referrer listed that is not there (deleted since the listing, or
	// named by a sha256-<hex> fallback index, which anyone with push
	// rights writes) is no signing of the root's: skipped as hostile
	// content is, not the end of the choice. It made a held root read as
	// not there, and the rollback check pass over it.
	if hostileContent(err) || isNotFound(err) {
		rs.skipReferrer(r.Digest, err)
		return nil, nil, nil
	}
	if err != nil {
		return nil, nil, err
	}
	man, err := parseArtifact(r, data)
	if err != nil || man.Subject == nil || man.Subject.Digest != root.Digest {
		return nil, nil, nil
	}
	desc := ocispec.Descriptor{MediaType: r.MediaType, Digest: r.Digest, Size: r.Size}
	switch man.ArtifactType {
	case bundle.ArtifactTypeDSSE:
		if len(man.Layers) != 1 {
			rs.skipReferrer(r.Digest, fmt.Errorf("%d layers, not the one envelope: %w", len(man.Layers), errdef.ErrMalformed))
			return nil, nil, nil
		}
		if err := bundle.CheckSignatureManifest(data, root, man.Layers[0]); err != nil {
			rs.skipReferrer(r.Digest, err)
			return nil, nil, nil
		}
		created, _ := time.Parse(time.RFC3339, man.Annotations[ocispec.AnnotationCreated])
		return &signatureRef{desc: desc, envelope: man.Layers[0], created: created, manifest: data}, nil, nil
	case bundle.ArtifactTypeFiles:
		if rs.envelopeOnly {
			return nil, nil, nil
		}
		f := &filesRef{desc: desc, layers: map[string]ocispec.Descriptor{}}
		for _, l := range man.Layers {
			name := l.Annotations[ocispec.AnnotationTitle]
			if !layout.IsHeadFile(name) || name == layout.IndexFile || name == layout.ManifestFile || name == layout.EnvelopeFile || name == layout.OCILayoutFile {
				continue
			}
			f.layers[name] = l
		}
		return nil, f, nil
	}
	return nil, nil, nil
}
