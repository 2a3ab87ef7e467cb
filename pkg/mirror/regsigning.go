package mirror

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/stellaops/mirror/internal/errgroup"
	"github.com/stellaops/mirror/pkg/bundle"
	"github.com/stellaops/mirror/pkg/dsse"
	"github.com/stellaops/mirror/pkg/errdef"
	"github.com/stellaops/mirror/pkg/keys"
	"github.com/stellaops/mirror/pkg/layout"
	"github.com/stellaops/mirror/pkg/transfer"
)

// A bundle root in a registry has, per push of a signed bundle, a
// signature referrer (the DSSE envelope) and a files referrer (public-key.pem,
// SHA256SUMS and its signature, certificates). Push never deletes, so a
// bundle signed again (a second signature, or another key) and pushed again
// has two of each. A signing is one push's pair; readers take the envelope
// and the files of one and the same signing, chosen by chooseWeighed.

// signatureRef is a DSSE referrer of the root.
type signatureRef struct {
	desc     ocispec.Descriptor
	envelope ocispec.Descriptor // its one layer
	created  time.Time          // its created annotation; zero if none
	// manifest is its bytes, verified, as weighed; nil past
	// maxKeptSignatureManifests.
	manifest []byte
}

// filesRef is a files referrer of the root, and the signing its SHA256SUMS
// names.
type filesRef struct {
	desc   ocispec.Descriptor
	layers map[string]ocispec.Descriptor // by file name
	// envelope is the digest SHA256SUMS gives manifest.dsse: "" when it
	// names none (an unsigned bundle) or there is no readable SHA256SUMS.
	envelope digest.Digest
	// listed holds the signature referrers SHA256SUMS lists among the
	// bundle's blobs (sign writes its referrer there).
	listed map[digest.Digest]bool
}

// signing is what a reader takes from the root's referrers: an envelope
// (none for an unsigned bundle) and the files of the same signing.
type signing struct {
	sig   *signatureRef
	files *filesRef
	// filesCandidates are the files referrers whose SHA256SUMS names sig
	// (one of them, or another's lookalike); loadSigning picks files.
	filesCandidates []*filesRef
	envelope        []byte
	data            map[string][]byte
	// left, when sig has files referrers and none is the signer's, says
	// which side files the first of them held and why it was passed
	// over: a placement leaves them behind and reports it.
	left *FilesNotCarried
}

// chooseWeighed returns one signing of the root's referrers (the listing,
// already bounded by transfer.MaxReferrers), weighed, and loads it:
//
//   - Each signature referrer goes with the files referrer whose SHA256SUMS
//     names its envelope as manifest.dsse and lists the referrer itself,
//     which is what sign writes, and whose files are the signer's
//     (signersFiles: anyone can copy that SHA256SUMS into a lookalike); a
//     signature referrer with no such files referrer (a push interrupted
//     between the two) stands alone. Files of one signing are never read
//     with the envelope of another.
//   - With no signature referrer at all, the bundle is unsigned: its files
//     are those of a files referrer whose SHA256SUMS names no manifest.dsse.
//   - Among several signings: first those whose envelope verifies with
//     rs.trust (with the certificates of the same signing), then the most
//     trusted signers, then those whose SHA256SUMS.sig a trusted signer
//     made (one who signs the envelope again with a key not trusted has
//     more signatures, and their own SHA256SUMS.sig), the most
//     signatures, the latest created annotation, and the lowest signature
//     referrer digest.
//   - Without trust, a reader that carries the envelope on (pull, sync)
//     takes one only where it holds every signature of the others, as
//     chooseUnkeyed says, and refuses otherwise: a bundle signed again for
//     two-person approval is read as its last push left it, and an
//     envelope anyone attached is never carried in place of the signer's.
//     Readers that carry nothing (inspect, create --base) take the one
//     with the most signatures.
//
// A referrer whose content is no signature or files of ours (a signature
// referrer of other than one layer, a manifest, envelope or SHA256SUMS over
// its size bound or not matching its digest) is skipped with a warning:
// anyone who may push to the repository can attach one.
//
// Nothing here is trusted: the reader verifies the signing chosen, and
// fails if it does not verify.
func (rs *registrySource) chooseWeighed(ctx context.Context, w *weighedReferrers) (*signing, error) {
	root, sigs, files := w.root, w.sigs, w.files
	for _, f := range files {
		if err := rs.readSignedFor(ctx, f, sigs); err != nil {
			return nil, err
		}
	}

	var candidates []*signing
	for _, s := range sigs {
		c := &signing{sig: s}
		for _, f := range files {
			if f.envelope == s.envelope.Digest && f.listed[s.desc.Digest] {
				c.filesCandidates = append(c.filesCandidates, f)
			}
		}
		candidates = append(candidates, c)
	}
	if len(sigs) == 0 {
		for _, f := range files {
			if f.envelope == "" {
				candidates = append(candidates, &signing{files: f})
				break
			}
		}
	}
	switch len(candidates) {
	case 0:
		return &signing{}, nil
	case 1:
		c := candidates[0]
		if c.sig != nil && !rs.heldRoot && c.sig.manifest == nil {
			// The one signature referrer is the bundle's: the trust check
			// and the plan read it (signatureReferrer). Its bytes as
			// weighed are held (readMetadata); where they were not kept,
			// it is read again now, beside its envelope, not a round trip
			// after everything else. Should this read fail, theirs reads
			// it again and says so.
			held := make(chan struct{})
			go func() {
				defer close(held)
				// A panic (a bug) is passed over as a failed read
				// is: theirs reads it again and reports its own.
				defer errdef.Recover(new(error))
				_, _ = rs.doc(ctx, c.sig.desc)
			}()
			defer func() { <-held }()
		}
		return c, rs.loadSigning(ctx, c)
	}
	if rs.carry && rs.trust.Empty() {
		return rs.chooseUnkeyed(ctx, root, candidates)
	}

	var bestRank signingRank
	var ranked bool
	best, skipped, err := rs.bestLoaded(ctx, candidates, func(c *signing) bool {
		r := rs.rank(ctx, c)
		if ranked && !r.better(bestRank) {
			return false
		}
		bestRank, ranked = r, true
		return true
	})
	if err != nil || best == nil {
		return nil, cmp.Or(err, skipped)
	}
	rs.log.Info("the bundle root has several signature referrers (signed again and pushed again): reading one",
		"root", root.Digest, "signatures", len(sigs), "referrer", best.sig.desc.Digest,
		"verified", bestRank.verified, "envelopeSignatures", bestRank.signatures, "withFiles", best.files != nil)
	return best, nil
}

// bestLoaded loads the candidates one at a time (loadSigning) and
// returns the best, holding the bytes of no other: a listing of
// MaxReferrers signatures is not held in memory whole. better(c), asked of
// each candidate that loaded, reports whether c goes before the best so
// far; the bytes of the one it displaces, or of c if not, are dropped. A
// candidate whose content is hostile is skipped, said so: with none
// loaded, the first such error comes back as skipped. Any other error (the
// registry's) ends the choice.
func (rs *registrySource) bestLoaded(ctx context.Context, candidates []*signing, better func(c *signing) bool) (best *signing, skipped, err error) {
	for _, c := range candidates {
		if err := rs.loadSigning(ctx, c); err != nil {
			if !hostileContent(err) {
				return nil, nil, err
			}
			rs.skipReferrer(c.sig.desc.Digest, err)
			skipped = cmp.Or(skipped, err)
			c.envelope, c.data = nil, nil
			continue
		}
		if !better(c) {
			c.envelope, c.data = nil, nil
			continue
		}
		if best != nil {
			best.envelope, best.data = nil, nil
		}
		best = c
	}
	return best, skipped, nil
}

// readSignedFor reads f's SHA256SUMS for the signing it belongs to: the
// manifest.dsse it names, and which of sigs it lists as blobs. Only that is
// kept. A SHA256SUMS that does not parse names no signing.
func (rs *registrySource) readSignedFor(ctx context.Context, f *filesRef, sigs []*signatureRef) error {
	f.listed = map[digest.Digest]bool{}
	l, ok := f.layers[layout.ChecksumsFile]
	if !ok {
		return nil
	}
	data, err := rs.blob(ctx, l)
	if hostileContent(err) {
		rs.skipReferrer(f.desc.Digest, err)
		return nil
	}
	if err != nil {
		return err
	}
	sums, err := bundle.ParseChecksums(data)
	if err != nil {
		return nil
	}
	blobs := map[string]digest.Digest{}
	for _, s := range sums {
		if s.Path == layout.EnvelopeFile {
			f.envelope = s.Digest
		}
		blobs[s.Path] = s.Digest
	}
	for _, s := range sigs {
		if blobs[layout.BlobName(s.desc.Digest)] == s.desc.Digest {
			f.listed[s.desc.Digest] = true
		}
	}
	return nil
}

// hostileContent reports whether err is about what a referrer holds (its
// shape, size or digest), not about reaching the registry. Anyone who may
// push to the repository can attach such a referrer to a validly signed
// root; it is skipped, so that it cannot stop a reader from taking the
// signing that verifies (nothing skipped is trusted either way).
func hostileContent(err error) bool {
	if errors.Is(err, errHeldRootAnswered) {
		return false // the registry's (heldAnswered)
	}
	return errors.Is(err, errdef.ErrMalformed) || errors.Is(err, errdef.ErrDigestMismatch)
}

// skipReferrer logs a referrer of the root that is left out.
func (rs *registrySource) skipReferrer(d digest.Digest, err error) {
	log := rs.skipLog
	if log == nil {
		log = rs.log
	}
	log.Warn("referrer of the bundle root skipped: not a signature or its files", "referrer", d, "error", err)
}

// loadSigning fetches c's envelope and files (each verified against its
// descriptor, bounded). A signed bundle's files are those of the first of
// c.filesCandidates that are the signer's (signersFiles); anyone may attach
// a lookalike naming the same envelope, which is skipped. The envelope and
// the first candidate's files are fetched at once: a round trip, not one
// after another (a registry may be a WAN away).
func (rs *registrySource) loadSigning(ctx context.Context, c *signing) error {
	c.data = map[string][]byte{}
	var err error
	if c.sig != nil {
		var first map[string][]byte
		var firstErr error
		g, gctx := errgroup.WithContext(ctx)
		g.Go(func() (err error) {
			c.envelope, err = rs.blob(gctx, c.sig.envelope)
			return err
		})
		if len(c.filesCandidates) > 0 {
			g.Go(func() error {
				first, firstErr = rs.loadFiles(gctx, c.filesCandidates[0])
				return nil // weighed below, with the envelope
			})
		}
		if err := g.Wait(); err != nil {
			return err
		}
		c.files, c.left = nil, nil
		for i, f := range c.filesCandidates {
			data, err := first, firstErr
			if i > 0 {
				data, err = rs.loadFiles(ctx, f)
			}
			if err == nil {
				err = signersFiles(c.envelope, data)
			} else if !hostileContent(err) {
				return err
			}
			if err != nil {
				rs.skipReferrer(f.desc.Digest, err)
				if c.left == nil {
					c.left = f.notCarried(err)
				}
				continue
			}
			c.files, c.data, c.left = f, data, nil
			break
		}
		return nil
	}
	if c.files != nil {
		c.data, err = rs.loadFiles(ctx, c.files)
	}
	return err
}

// notCarried names the side files f holds, left behind for err.
func (f *filesRef) notCarried(err error) *FilesNotCarried {
	left := &FilesNotCarried{Reason: err.Error()}
	for _, name := range filesReferrerNames {
		if _, ok := f.layers[name]; ok {
			left.Files = append(left.Files, name)
		}
	}
	return left
}

// loadFiles fetches the files of a files referrer, at once (a handful of
// small head files, each bounded as rs.blob bounds it).
func (rs *registrySource) loadFiles(ctx context.Context, f *filesRef) (map[string][]byte, error) {
	data := make(map[string][]byte, len(f.layers))
	var mu sync.Mutex
	g, ctx := errgroup.WithContext(ctx)
	g.SetLimit(transfer.DefaultWalkFetches)
	for name, l := range f.layers {
		g.Go(func() error {
			b, err := rs.blob(ctx, l)
			if err != nil {
				return err
			}
			mu.Lock()
			data[name] = b
			mu.Unlock()
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		return nil, err
	}
	return data, nil
}

// signersFiles checks that files are those sign wrote beside envelope:
// SHA256SUMS lists envelope as manifest.dsse, SHA256SUMS.sig verifies
// SHA256SUMS with a key of public-key.pem that
// signed envelope (its keyid names one of the envelope's signatures: no
// one else can make such a signature), and every other file is present
// exactly when SHA256SUMS lists it, with the digest it lists. A lookalike
// that copies SHA256SUMS to name the envelope, but leaves a file out or
// holds another, fails. It trusts nothing: the signature over SHA256SUMS is
// checked against the envelope's signers, who are trusted only if the
// envelope verifies.
func signersFiles(envelope []byte, files map[string][]byte) error {
	env, err := dsse.Parse(envelope)
	if err != nil {
		return err
	}
	sums, err := bundle.ParseChecksums(files[layout.ChecksumsFile])
	if err != nil {
		return err
	}
	listed := map[string]digest.Digest{}
	for _, c := range sums {
		listed[c.Path] = c.Digest
	}
	// Another bundle's SHA256SUMS and signature by the same signer verify
	// as well: the list must be this signing's.
	if got, want := listed[layout.EnvelopeFile], digest.FromBytes(envelope); got != want {
		return fmt.Errorf("%s lists another %s (%q), not this one (%s): %w", layout.ChecksumsFile, layout.EnvelopeFile, got, want, errdef.ErrMalformed)
	}
	for _, name := range filesReferrerNames {
		if name == layout.ChecksumsFile || name == layout.ChecksumsSigFile {
			continue
		}
		data, held := files[name]
		want, ok := listed[name]
		switch {
		case held != ok:
			return fmt.Errorf("%s held %v, listed in %s %v: %w", name, held, layout.ChecksumsFile, ok, errdef.ErrMalformed)
		case held && digest.FromBytes(data) != want:
			return fmt.Errorf("%s is not the one %s lists: %w", name, layout.ChecksumsFile, errdef.ErrDigestMismatch)
		}
	}
	raw, held := files[layout.ChecksumsSigFile]
	if !held {
		// Not "not the base64 of a signature", of a file not there.
		return fmt.Errorf("no %s: %w", layout.ChecksumsSigFile, errdef.ErrSignature)
	}
	sig, err := decodeChecksumsSig(raw)
	if err != nil {
		return err
	}
	signers := map[string]bool{}
	for _, s := range env.Signatures {
		signers[s.KeyID] = true
	}
	for _, p := range carriedPublicKeys(files[layout.PublicKeyFile]) {
		v, err := keys.NewVerifier(p, layout.PublicKeyFile)
		if err == nil && signers[v.KeyID()] && v.Verify(context.Background(), files[layout.ChecksumsFile], sig) == nil {
			return nil
		}
	}
	// A damaged block may have held the key: named, not taken for side
	// files someone substituted.
	if be := (*keys.BlockError)(nil); errors.As(keysError(files[layout.PublicKeyFile]), &be) {
		return fmt.Errorf("%s: %v, and %s verifies %s with no key of the others that signed the envelope: %w",
			layout.PublicKeyFile, be, layout.ChecksumsSigFile, layout.ChecksumsFile, errdef.ErrSignature)
	}
	return fmt.Errorf("%s does not verify %s with a key that signed the envelope: %w", layout.ChecksumsSigFile, layout.ChecksumsFile, errdef.ErrSignature)
}

// keysError is why a public-key.pem does not parse whole; nil if it does
// or is not there.
func keysError(data []byte) error {
	if data == nil {
		return nil
	}
	_, err := keys.ParsePublicKeys(data)
	return err
}

// signingRank orders signings for chooseWeighed.
type signingRank struct {
	verified bool
	trusted  int
	// trustedFiles: its SHA256SUMS.sig verifies with the key of a trusted
	// signer. Anyone who may push can sign the signer's envelope again
	// and push it with files of their own: theirs verifies as well, with
	// more signatures, but its SHA256SUMS.sig is theirs.
	trustedFiles bool
	signatures   int
	created      time.Time
	digest       digest.Digest
}

func (a signingRank) better(b signingRank) bool {
	switch {
	case a.verified != b.verified:
		return a.verified
	case a.trusted != b.trusted:
		return a.trusted > b.trusted
	case a.trustedFiles != b.trustedFiles:
		return a.trustedFiles
	case a.signatures != b.signatures:
		return a.signatures > b.signatures
	case !a.created.Equal(b.created):
		return a.created.After(b.created)
	}
	return a.digest < b.digest
}

// rank verifies c's envelope with rs.trust (when given), reading
// certificates from c's own files, and counts its signatures.
func (rs *registrySource) rank(ctx context.Context, c *signing) signingRank {
	r := signingRank{created: c.sig.created, digest: c.sig.desc.Digest}
	if env, err := dsse.Parse(c.envelope); err == nil {
		r.signatures = len(env.Signatures)
	}
	if rs.trust.Empty() {
		return r
	}
	file := func(name string) ([]byte, error) {
		switch name {
		case layout.EnvelopeFile:
			return c.envelope, nil
		case layout.ManifestFile:
			return rs.files[layout.ManifestFile], nil
		}
		if data, ok := c.data[name]; ok {
			return data, nil
		}
		return nil, fmt.Errorf("%s: no %s: %w", rs.ref, name, errdef.ErrNotFound)
	}
	if res, err := verifyBundleSignature(ctx, file, rs.trust); err == nil {
		r.verified, r.trusted = true, len(res.Signers)
		r.trustedFiles = c.files != nil && trustedFilesSigner(ctx, res, c.data)
	}
	return r
}

// trustedFilesSigner reports whether SHA256SUMS.sig of a signing's files
// verifies with the key of one of res's trusted signers, as carried in
// those files (the keyid is the key's digest: a carried key of a trusted
// signer's id is that key).
func trustedFilesSigner(ctx context.Context, res *SignatureResult, files map[string][]byte) bool {
	sig, err := decodeChecksumsSig(files[layout.ChecksumsSigFile])
	if err != nil {
		return false
	}
	carried := carriedKeys(files)
	for _, s := range res.Signers {
		if v, ok := carried[s.KeyID]; ok && v.Verify(ctx, files[layout.ChecksumsFile], sig) == nil {
			return true
		}
	}
	return false
}
