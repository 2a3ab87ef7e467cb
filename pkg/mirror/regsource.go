package mirror

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"sync"

	"github.com/opencontainers/go-digest"
	specs "github.com/opencontainers/image-spec/specs-go"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	"oras.land/oras-go/v2/content"
	"oras.land/oras-go/v2/registry"
	oremote "oras.land/oras-go/v2/registry/remote"
	"oras.land/oras-go/v2/registry/remote/errcode"

	"github.com/stellaops/mirror/pkg/bundle"
	"github.com/stellaops/mirror/pkg/errdef"
	"github.com/stellaops/mirror/pkg/layout"
	"github.com/stellaops/mirror/pkg/remote"
	"github.com/stellaops/mirror/pkg/transfer"
)

// openRegistrySource reads a bundle's metadata from a registry: the root
// (by tag or digest), its metadata manifest and manifest.json, and its
// referrers: the DSSE signature and the files referrer. It presents them as
// the files of a bundle directory, with an index.json as sign writes it, so
// the same checks apply as to a directory or tar.
//
// A root can have several signature referrers (and files referrers): push
// never deletes, so a bundle signed again and pushed again has one of each
// per push. The signing read is chosen as chooseWeighed says, with trust
// (the reader's, which verifies it again); it is never a mix of two. read
// says what the reader does with the bundle: one that carries the envelope
// on (readCarry: pull writes it, sync copies it) takes it, without trust,
// only where no other could be the one the far side's key accepts
// (chooseUnkeyed); one that reads the whole graph (readGraph, readCarry)
// has its documents fetched while the signing is read.
func openRegistrySource(ctx context.Context, client *remote.Client, ref string, trust TrustOptions, read registryRead, versionRead func(string), log *slog.Logger) (*source, error) {
	if err := refuseScheme(ref); err != nil {
		return nil, err
	}
	parsed, err := registry.ParseReference(ref)
	if err != nil {
		return nil, fmt.Errorf("bundle reference %q: %v: %w", ref, err, errdef.ErrUsage)
	}
	if parsed.Reference == "" {
		return nil, fmt.Errorf("bundle reference %q needs a tag or digest: %w", ref, errdef.ErrUsage)
	}
	repo, err := client.Repository(ref)
	if err != nil {
		return nil, err
	}
	rs := &registrySource{repo: repo, ref: ref, trust: trust, carry: read == readCarry, walk: read != readSigning, versionRead: versionRead, log: logger(log), docs: map[digest.Digest][]byte{}, files: map[string][]byte{}}
	// One GET resolves the reference and brings the root, which open
	// reads first: a HEAD before it would cost a round trip more.
	root, body, err := repo.FetchReference(ctx, parsed.Reference)
	if err != nil {
		err = remote.Classify(err)
		if errors.Is(err, errdef.ErrNotFound) && !errors.As(err, new(*errcode.ErrorResponse)) {
			// oras-go's own 404, "REF: not found": the registry said
			// nothing more, and the reference is named already.
			return nil, fmt.Errorf("bundle %s: the registry holds no such repository, tag or digest: %w", ref, errdef.ErrNotFound)
		}
		return nil, fmt.Errorf("bundle %s: %w", ref, err)
	}
	held := &heldRoot{desc: root, src: repo.Manifests(), body: body}
	defer held.Close()
	rs.manifests = held
	return rs.open(ctx, plainDesc(root))
}

// openHeldRoot is openRegistrySource for a bundle root already found
// (root, in repository ref names), read only to verify its signature
// (verifyHeldRoot): its root is not asked for again, and, with trust that
// holds no root CA, its files referrers (public-key.pem, SHA256SUMS, its
// signature, certificates) are not read, since only a trusted CA's
// certificate among them could change the answer. A held
// root costs the far side 5 requests fewer (7, not 12), which a
// repository of many roots multiplies.
//
// Its referrers are read as heldCandidates bounds them: only signature
// referrers (and files referrers, with a trust root among trust, whose
// certificates they carry), of bounded number and size.
//
// dropped says how many referrers were left unread past the bound.
func openHeldRoot(ctx context.Context, client *remote.Client, ref string, root ocispec.Descriptor, trust TrustOptions, log *slog.Logger) (src *source, dropped func() int, err error) {
	repo, err := client.Repository(ref)
	if err != nil {
		return nil, nil, err
	}
	rs := &registrySource{repo: repo, ref: ref, trust: trust, envelopeOnly: len(trust.TrustRoots) == 0, heldRoot: true,
		log: logger(log), docs: map[digest.Digest][]byte{}, files: map[string][]byte{}}
	dropped = func() int { return rs.dropped }
	src, err = rs.open(ctx, plainDesc(root))
	return src, dropped, err
}

// open reads the metadata of the bundle whose root is root.
func (rs *registrySource) open(ctx context.Context, root ocispec.Descriptor) (*source, error) {
	ref := rs.ref
	if err := rs.readMetadata(ctx, root); err != nil {
		return nil, fmt.Errorf("bundle %s: %w", ref, err)
	}
	return &source{
		name:      ref,
		file:      rs.file,
		doc:       rs.doc,
		prefetch:  rs.prefetch,
		fetch:     rs.fetchBundleBlob,
		close:     rs.ahead.stop,
		filesLeft: rs.left,
	}, nil
}

type registrySource struct {
	repo *oremote.Repository
	// manifests is where manifests are fetched: the repository's, or
	// (openRegistrySource) the root's body already asked for, then them.
	manifests content.Fetcher
	ref       string
	// trust picks among several signings of the root (chooseWeighed).
	trust TrustOptions
	// carry: the signing read goes on to a directory or registry.
	carry bool
	// walk: the reader goes on to read the bundle's whole graph
	// (prefetchDocs), whose documents are fetched while the signing is
	// read (readMetadata).
	walk bool
	// ahead is that fetch, once readAhead started it.
	ahead *docsAhead
	// versionRead, if set, is told the release version the root names,
	// once the root is read, before the metadata and signing are (sync's
	// generation check starts then: generationAhead). Nothing of it is
	// verified yet.
	versionRead func(version string)
	// envelopeOnly: files referrers are not read (openHeldRoot).
	envelopeOnly bool
	// heldRoot: a held root's verification, whose referrers are bounded
	// (openHeldRoot).
	heldRoot bool
	// dropped counts the referrers heldCandidates left unread.
	dropped int
	log     *slog.Logger
	// skipLog is where skipReferrer tells a referrer left out: the
	// weighing's, held until the root and its metadata are read
	// (readMetadata), or log.
	skipLog *slog.Logger

	mu    sync.Mutex
	docs  map[digest.Digest][]byte
	held  int64 // bytes of docs (maxBundleDocs)
	files map[string][]byte
	// signingBlobs are the fetches fetchSigningAhead started, while
	// the signing is chosen.
	signingBlobs map[digest.Digest]*pendingBlob
	// heldBlobs are the blobs of the bundle the signing read holds,
	// verified against their descriptors: manifest.json and the envelope
	// (fetchBundleBlob).
	heldBlobs map[digest.Digest][]byte
	// left says which side files of the signing read were passed over
	// (signing.left); nil when none were.
	left *FilesNotCarried
}

func (rs *registrySource) readMetadata(ctx context.Context, root ocispec.Descriptor) (err error) {
	// The root's referrers are listed and weighed while the root, its
	// metadata manifest and manifest.json are read, not after them: the
	// root's digest is all they need. With the signing's blobs read at
	// once (fetchSigningAhead), the signing is in hand three round trips
	// after the root's digest is known, not five or six. The reading's
	// error, if any, is the one told, as before, and ends the listing (a
	// hostile one can page on to its bound). A held root's envelopes are
	// bounded by manifest.json's size (weighReferrers), told by the
	// metadata manifest.
	var weighed *weighedReferrers
	var refErr error
	var dropped int
	// What the weighing tells of referrers skipped is held until the root
	// and its metadata are read: a root that cannot be read fails on that
	// alone, whichever answer came first.
	skipped, skipLog := newDeferredLog(rs.log, "the bundle root's referrers")
	rs.skipLog = skipLog
	var listing sync.WaitGroup
	listCtx, stopListing := context.WithCancel(ctx)
	manifestSize := make(chan int64, 1)
	subject := root // root itself is written below
	listing.Go(func() {
		defer errdef.Recover(&refErr) // a bug: the listing's error, not the run's end
		referrers, err := rs.rootReferrers(listCtx, subject)
		if err != nil {
			refErr = err
			return
		}
		if rs.heldRoot {
			referrers, dropped = heldCandidates(referrers, !rs.envelopeOnly)
		}
		weighed, refErr = rs.weighReferrers(listCtx, subject, referrers, manifestSize)
	})
	defer func() {
		stopListing()
		listing.Wait()
		if weighed != nil {
			weighed.stop()
		}
	}()
	rootBytes, err := rs.doc(ctx, root)
	if err != nil && rs.heldRoot && !errors.Is(err, errHeldRootAnswered) && (errors.Is(err, errdef.ErrDigestMismatch) || errors.Is(err, errdef.ErrMalformed)) {
		// A held root's digest and size are those of the bytes its tag
		// was answered with: other bytes under that digest are the
		// registry's doing, which no one with push rights can cause, and
		// the root passed over as not verified would let an older bundle
		// in.
		return fmt.Errorf("%v: the registry answered the bundle root, asked for by its digest, with other content than its tag named (a proxy's page or error document, or a broken registry): %w", err, errHeldRootAnswered)
	}
	if err != nil && rs.heldRoot && errors.Is(err, errdef.ErrNotFound) {
		// Deleted since its tag was read, or not answered by digest
		// (verifyHeldRoot asks the tag again).
		return fmt.Errorf("%w: %w", err, errHeldRootGone)
	}
	if err != nil {
		return err
	}
	idx, err := bundle.ParseRoot(rootBytes)
	if err != nil {
		return err
	}
	// The tag's answer is the root's only descriptor, its Content-Type the
	// media type: one other than the image index its bytes are (which
	// ParseRoot holds it to) is the registry's doing, or a proxy's, and is
	// refused as a document asked for by its digest and so answered is
	// (remote.Classify). It was refused later as "index.json: root … is
	// not an image index", of a file the operator never gave, of a root
	// that is one. A held root's descriptor is its tag's as listed
	// (heldroots.go), checked as before.
	if !rs.heldRoot && root.MediaType != idx.MediaType {
		return fmt.Errorf("root %s: the registry answered its tag with Content-Type %q, where the root is an %s (the registry serves the document as another media type than it is: a proxy in front of it, or a registry that converts manifests): %w", root.Digest, root.MediaType, idx.MediaType, errdef.ErrMalformed)
	}
	root.ArtifactType = bundle.ArtifactTypeBundle
	version := idx.Annotations[ocispec.AnnotationVersion]
	metaDesc, err := bundle.MetadataDescriptor(idx)
	if err != nil {
		return err
	}
	if rs.walk || rs.versionRead != nil {
		rs.readAhead(ctx, idx, metaDesc)
		defer func() {
			if err != nil {
				rs.ahead.stop()
			}
		}()
	}
	manifestFile, err := rs.manifestFile(ctx, metaDesc, manifestSize)
	if err != nil {
		return err
	}
	listing.Wait()
	// Told only once the root and its metadata read: a root that is no
	// bundle is refused as such, however many referrers it has. Told
	// before the weighing's error: a held root with referrers left unread
	// fails closed (verifyHeldRoot) whatever else went wrong in reading
	// the ones weighed.
	rs.dropped = dropped
	skipped.flush(ctx)
	if refErr != nil {
		return refErr
	}
	rs.files[layout.ManifestFile] = manifestFile
	index := &ocispec.Index{
		Versioned: specs.Versioned{SchemaVersion: 2},
		MediaType: ocispec.MediaTypeImageIndex,
	}
	// The layout index is rebuilt from manifest.json once it is parsed;
	// here only the root and signature are named, which is what
	// readMetadata needs.
	index.Manifests = append(index.Manifests, ocispec.Descriptor{
		MediaType: root.MediaType, ArtifactType: bundle.ArtifactTypeBundle, Digest: root.Digest, Size: root.Size,
		Annotations: map[string]string{ocispec.AnnotationRefName: version},
	})
	chosen, err := rs.chooseWeighed(ctx, weighed)
	if err != nil {
		return err
	}
	if chosen.sig != nil && !rs.heldRoot {
		// The signature referrer chosen is the bundle's, which the trust
		// check and the plan read (signatureReferrer): held as weighed,
		// where its bytes were kept, not fetched again.
		rs.holdDoc(chosen.sig.desc, chosen.sig.manifest)
	}
	if chosen.sig != nil {
		rs.holdBlob(chosen.sig.envelope, chosen.envelope)
		rs.files[layout.EnvelopeFile] = chosen.envelope
		index.Manifests = append(index.Manifests, ocispec.Descriptor{MediaType: chosen.sig.desc.MediaType, ArtifactType: bundle.ArtifactTypeDSSE, Digest: chosen.sig.desc.Digest, Size: chosen.sig.desc.Size})
	}
	for name, data := range chosen.data {
		rs.files[name] = data
	}
	rs.left = chosen.left
	data, err := bundle.Canonical(index)
	if err != nil {
		return err
	}
	rs.files[layout.IndexFile] = data
	return nil
}

// manifestFile reads manifest.json, the first layer of the bundle's
// metadata manifest metaDesc. size is told manifest.json's size, as the
// metadata manifest gives it, before manifest.json is fetched.
func (rs *registrySource) manifestFile(ctx context.Context, metaDesc ocispec.Descriptor, size chan<- int64) ([]byte, error) {
	metaBytes, err := rs.doc(ctx, metaDesc)
	if err != nil {
		return nil, err
	}
	layers, err := bundle.Children(metaDesc, metaBytes)
	if err != nil {
		return nil, err
	}
	var meta ocispec.Manifest
	if err := json.Unmarshal(metaBytes, &meta); err != nil || len(meta.Layers) == 0 || meta.Layers[0].Annotations[ocispec.AnnotationTitle] != layout.ManifestFile {
		return nil, fmt.Errorf("metadata manifest %s does not lead with manifest.json: %w", metaDesc.Digest, errdef.ErrMalformed)
	}
	size <- layers[1].Size
	data, err := rs.blob(ctx, layers[1])
	if err == nil {
		rs.holdBlob(layers[1], data)
	}
	return data, err
}

// errTooManyReferrers is a root listing more referrers than rootReferrers
// reads. Anyone with push rights can attach referrers to any root, so it
// is no refusal of the root (refusesRoot): the rollback check that passed
// over a held root so would let an older bundle in.
var errTooManyReferrers = fmt.Errorf("more than %d referrers (anyone with push rights there may have attached them: delete those that are not yours): %w", transfer.MaxReferrers, errdef.ErrMalformed)

// errHeldRootAnswered is a held root the registry answered, asked for by
// its digest, otherwise than its tag: with other content (an error
// document, a proxy's page, other bytes), or not found while its tag
// still names it (heldRootGone). It is no refusal of the root
// (refusesRoot): the registry's fault, not the root's.
var errHeldRootAnswered = fmt.Errorf("%w", errdef.ErrMalformed)

// errHeldRootGone marks a held root not found by its digest, which its
// tag named: deleted since, unless its tag still names it (heldRootGone).
var errHeldRootGone = errors.New("deleted since its tag was read")

// rootReferrers lists the referrers of root. The listing is hostile input
// too: bounded as create bounds an image's. Only image manifests can be
// ours (parseArtifact): others are not fetched. (The listed artifactType
// cannot be used to skip more: some registries report the config's media
// type instead.)
func (rs *registrySource) rootReferrers(ctx context.Context, root ocispec.Descriptor) ([]ocispec.Descriptor, error) {
	var referrers []ocispec.Descriptor
	err := rs.repo.Referrers(ctx, root, "", func(page []ocispec.Descriptor) error {
		referrers = append(referrers, page...)
		if len(referrers) > transfer.MaxReferrers {
			return fmt.Errorf("root %s: %w", root.Digest, errTooManyReferrers)
		}
		return nil
	})
	if err != nil {
		err = remote.Classify(err)
		if rs.heldRoot && errors.Is(err, errdef.ErrNotFound) {
			// The repository not there (NAME_UNKNOWN), though the root
			// was just read from it: the registry's answer, or a proxy's,
			// not the root's; passed over as a part missing, the root
			// would let an older bundle in.
			return nil, fmt.Errorf("list the referrers of %s: %v: the registry answers the repository not found, though the root was read from it (a proxy, or a broken registry): %w", root.Digest, err, errHeldRootAnswered)
		}
		return nil, err
	}
	return referrers, nil
}

func (rs *registrySource) file(name string) ([]byte, error) {
	rs.mu.Lock()
	defer rs.mu.Unlock()
	if data, ok := rs.files[name]; ok {
		return data, nil
	}
	return nil, fmt.Errorf("%s: no %s: %w", rs.ref, name, errdef.ErrNotFound)
}

// peek fetches and verifies a manifest without holding it or counting
// it against maxBundleDocs: a referrer of the root, which anyone who may
// push to the repository can attach, is weighed one at a time, and only
// the signing chosen is read again (doc) as the bundle's.
func (rs *registrySource) peek(ctx context.Context, desc ocispec.Descriptor) ([]byte, error) {
	return rs.fetchDoc(ctx, desc, false)
}

// doc fetches and verifies a manifest of the bundle, once.
func (rs *registrySource) doc(ctx context.Context, desc ocispec.Descriptor) ([]byte, error) {
	return rs.fetchDoc(ctx, desc, true)
}

// holdDoc holds data, desc's bytes fetched and verified already, as doc
// would: counted against maxBundleDocs. It reports whether it holds them:
// not nil data, nor past the bound, which doc then reports.
func (rs *registrySource) holdDoc(desc ocispec.Descriptor, data []byte) bool {
	if data == nil {
		return false
	}
	rs.mu.Lock()
	defer rs.mu.Unlock()
	if _, ok := rs.docs[desc.Digest]; ok {
		return true
	}
	if rs.held+desc.Size > maxBundleDocs {
		return false
	}
	rs.held += desc.Size
	rs.docs[desc.Digest] = data
	return true
}

// fetchDoc fetches and verifies a manifest, or returns the one held. With
// hold it is held for the run, as a packed bundle's head is, and bounded
// as a reader of one bounds it: a bundle read from a registry is hostile
// until its signature verifies, and pull and sync without --key never
// verify it.
//
// The bytes a fetch will hold are counted before it is sent, so that
// fetches at once (prefetch) stay under the bound together.
func (rs *registrySource) fetchDoc(ctx context.Context, desc ocispec.Descriptor, hold bool) ([]byte, error) {
	rs.mu.Lock()
	data, ok := rs.docs[desc.Digest]
	over := hold && rs.held+desc.Size > maxBundleDocs
	if hold && !ok && !over && desc.Size > 0 {
		rs.held += desc.Size
	}
	rs.mu.Unlock()
	switch {
	case ok:
		return data, nil
	case over:
		return nil, fmt.Errorf("%s: manifest %s: the bundle's manifests come to more than %d bytes, the most a bundle holds: %w", rs.ref, desc.Digest, maxBundleDocs, errdef.ErrMalformed)
	}
	from := rs.manifests
	if from == nil {
		from = rs.repo.Manifests()
	}
	data, err := transfer.FetchBytes(ctx, from, desc)
	if hold {
		rs.mu.Lock()
		if _, ok := rs.docs[desc.Digest]; ok || err != nil {
			// Held already (fetched at once by another), or not held.
			rs.held -= max(desc.Size, 0)
		} else {
			rs.docs[desc.Digest] = data
		}
		rs.mu.Unlock()
	}
	if err != nil {
		return nil, rs.heldAnswered(remote.Classify(err))
	}
	return data, nil
}

// heldAnswered is err, of a fetch by digest of a held root's part (its
// metadata manifest, manifest.json, a referrer, an envelope, a side
// file), as errHeldRootAnswered where the registry answered bytes of the
// descriptor's size that hash to another digest: no one with push rights
// can have a registry hold those under that digest, whatever descriptor
// they wrote, so the part skipped would pass over the root (a rollback)
// for the registry's fault. Other errors are left as they are.
func (rs *registrySource) heldAnswered(err error) error {
	var ce *bundle.ContentError
	if !rs.heldRoot || !errors.As(err, &ce) || !ce.Hash {
		return err
	}
	return fmt.Errorf("%v: the registry answered it, asked for by its digest, with other bytes of its size (a proxy, or a broken registry): %w", err, errHeldRootAnswered)
}

// prefetch fetches and holds (doc) the documents below roots, a level of
// nesting at a time, each level's at once, so that the walks after it
// (placement, pull) read them from memory: a round trip a level, not one a
// document, to a registry that may be a WAN away. What failed is left for
// the walk that meets it, which asks again and reports it. What readAhead
// fetches is waited for first, so that nothing is asked twice; where it
// fetched every document it went to (all the root lists, which the
// structure check holds to roots), the graph is not gone through again.
func (rs *registrySource) prefetch(ctx context.Context, roots []ocispec.Descriptor) {
	if rs.ahead.fetchedAll(ctx) {
		return
	}
	rs.fetchLevels(ctx, roots, rs.doc)
}

// fetchLevels prefetches roots' documents; it reports whether every fetch
// it sent succeeded.
func (rs *registrySource) fetchLevels(ctx context.Context, roots []ocispec.Descriptor, fetch func(context.Context, ocispec.Descriptor) ([]byte, error)) bool {
	for _, f := range transfer.FetchLevels(ctx, roots, 0, transfer.DefaultWalkFetches, nil, fetch) {
		if f.Err != nil {
			return false
		}
	}
	return ctx.Err() == nil
}

// blob fetches and verifies a small blob (manifest.json, the envelope),
// or waits for the fetch fetchSigningAhead started of it.
func (rs *registrySource) blob(ctx context.Context, desc ocispec.Descriptor) ([]byte, error) {
	rs.mu.Lock()
	p, ok := rs.signingBlobs[desc.Digest]
	rs.mu.Unlock()
	if ok && p.desc.Size == desc.Size {
		select {
		case <-p.done:
			return p.data, p.err
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
	return rs.fetchBlob(ctx, desc)
}

// holdBlob keeps data, desc's verified bytes, for fetchBundleBlob.
func (rs *registrySource) holdBlob(desc ocispec.Descriptor, data []byte) {
	rs.mu.Lock()
	defer rs.mu.Unlock()
	if rs.heldBlobs == nil {
		rs.heldBlobs = map[digest.Digest][]byte{}
	}
	rs.heldBlobs[desc.Digest] = data
}

// fetchBundleBlob reads a blob of the bundle for a copy (pull's, sync's):
// manifest.json and the envelope from the bytes the signing read holds,
// which were fetched and verified once already, every other blob from the
// registry.
func (rs *registrySource) fetchBundleBlob(ctx context.Context, desc ocispec.Descriptor) (io.ReadCloser, error) {
	rs.mu.Lock()
	data, ok := rs.heldBlobs[desc.Digest]
	rs.mu.Unlock()
	if ok && int64(len(data)) == desc.Size {
		return heldReader{bytes.NewReader(data)}, nil
	}
	return rs.repo.Fetch(ctx, desc)
}

// heldReader is bytes held, read as a blob: it seeks, so a copy reads it
// as it reads a registry that serves ranges.
type heldReader struct{ *bytes.Reader }

func (heldReader) Close() error { return nil }

// fetchBlob fetches and verifies a small blob.
func (rs *registrySource) fetchBlob(ctx context.Context, desc ocispec.Descriptor) ([]byte, error) {
	rc, err := rs.repo.Blobs().Fetch(ctx, desc)
	if err != nil {
		return nil, remote.Classify(err)
	}
	defer rc.Close()
	data, err := bundle.ReadAll(rc, desc, bundle.MaxManifestSize)
	return data, rs.heldAnswered(err)
}

// parseArtifact decodes an artifact manifest's artifactType, subject and
// layers.
func parseArtifact(desc ocispec.Descriptor, data []byte) (*ocispec.Manifest, error) {
	if desc.MediaType != ocispec.MediaTypeImageManifest {
		return nil, fmt.Errorf("not an image manifest")
	}
	var man ocispec.Manifest
	if err := json.Unmarshal(data, &man); err != nil {
		return nil, err
	}
	return &man, nil
}

// openAnySource opens a bundle directory or tar if src is a path that
// exists, else a bundle in a registry (host/repo:tag or @digest).
// trust picks among several signings of a registry bundle
// (chooseWeighed); it verifies nothing here. Its readers (import, which
// needs trust, inspect and create --base) carry no envelope they did not
// verify.
func openAnySource(ctx context.Context, client *remote.Client, src string, trust TrustOptions, read registryRead, log *slog.Logger) (*source, error) {
	_, err := os.Stat(src)
	if err != nil {
		// Not a file: a URL is a reference with a scheme, not a path
		// (refused so with no client too: inspect of what reads as no
		// REF is given none).
		if err := refuseScheme(src); err != nil {
			return nil, err
		}
	}
	if err == nil || client == nil || !looksLikeReference(src) {
		return openSource(ctx, src, log)
	}
	return openRegistrySource(ctx, client, src, trust, read, nil, log)
}

// registryRead is what a reader of a registry bundle reads of it.
type registryRead int

const (
	// readSigning: its metadata and signing (inspect, create --base).
	readSigning registryRead = iota
	// readGraph: its whole graph too, to place it (import).
	readGraph
	// readCarry: its whole graph, and the signing carried on to a
	// directory or registry (pull, sync).
	readCarry
)

// looksLikeReference reports whether s parses as host/repo:tag or
// host/repo@digest.
func looksLikeReference(s string) bool {
	ref, err := registry.ParseReference(s)
	return err == nil && ref.Reference != ""
}
