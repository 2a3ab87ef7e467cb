package mirror

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"slices"
	"sync"
	"time"

	"github.com/opencontainers/go-digest"

	"github.com/stellaops/mirror/internal/errgroup"
	"github.com/stellaops/mirror/pkg/bundle"
	"github.com/stellaops/mirror/pkg/errdef"
	"github.com/stellaops/mirror/pkg/layout"
	"github.com/stellaops/mirror/pkg/remote"
	"github.com/stellaops/mirror/pkg/transfer"
)

// placer writes a placement into a target registry from a source: the
// engine of import, push and sync.
type placer struct {
	plan *placement
	tgt  *target
	src  *source
	md   *metadata
	adv  *advisoryWriter
	log  *slog.Logger
	// mountFrom, if set, is a repository of the target registry that holds
	// the source's blobs (sync within one registry).
	mountFrom string
	// spreadCtx is the context of the spreads, which outlive the blob
	// reads that queue them.
	spreadCtx context.Context
	mu        sync.Mutex
	// advisories, once run is done, say what it did in the advisories
	// directory; nil without one.
	advisories *advisoriesPlaced
	// omitted are the blobs a delta bundle leaves out (its base's).
	omitted map[digest.Digest]bool
	// pending are the advisories verified and waiting, as hidden
	// temporary files, for the placement to complete.
	pending []*pendingAdvisory
	// recheck, if set, runs once every blob and manifest is placed
	// (beside the last relisting of referrers), before the first tag is
	// written: the generation check again, for another run may have
	// tagged a newer bundle while this one sent its blobs.
	recheck func(context.Context) error
	// writes, if set, holds the placement's writes until the check run
	// beside it passed (checkBeside): its requests wait by their context,
	// and ready waits for the steps that write without one.
	writes *remote.WriteGate
	// left, once run has begun, says which side files the placement leaves
	// behind, and why; nil when it carries them.
	left *FilesNotCarried
}

// run places everything: blobs, then manifests children first, then tags,
// and only then moves the advisories into place: a placement that fails
// writes none (their temporary files are removed).
func (pl *placer) run(ctx context.Context, limit int) (err error) {
	t0 := time.Now()
	pl.left = pl.notCarried()
	defer func() {
		if err != nil {
			for _, p := range pl.pending {
				p.abort()
			}
		}
		pl.log.Info("phases", "total", time.Since(t0))
	}()
	// The blobs in hand (the files referrer's) go beside the others, at
	// once: small, they would each cost their round trips after them.
	// Whichever fails first ends the other: its error is the one told.
	// Whether the uploads come from one stream is said before either
	// starts: the first upload sizes the chunks of them all (chunkSize).
	if pl.src.stream != nil {
		pl.tgt.streamed = true
	}
	// The manifests' questions failing end the blobs (askManifests).
	bctx, failed := context.WithCancelCause(ctx)
	defer failed(nil)
	asked := pl.askManifests(ctx, failed)
	defer asked.stop()
	g, gctx := errgroup.WithContext(bctx)
	g.Go(func() error { return pl.blobs(gctx, limit) })
	g.Go(func() error {
		mem, mctx := errgroup.WithContext(gctx)
		mem.SetLimit(limit)
		for _, b := range pl.plan.memBlobs {
			if g := pl.plan.byDig[b.desc.Digest]; g != nil && slices.Contains(g.repos, b.repo) {
				// Also a blob of the graph (the empty config): placed
				// with those, asked for once.
				continue
			}
			mem.Go(func() error {
				data, err := b.bytes(pl.md)
				if err != nil {
					return err
				}
				return pl.tgt.putBytes(mctx, b.repo, b.desc, data)
			})
		}
		return mem.Wait()
	})
	if err = g.Wait(); err != nil {
		if cause := context.Cause(bctx); ctx.Err() == nil && errors.Is(err, context.Canceled) && cause != nil && !errors.Is(cause, context.Canceled) {
			// The manifests' questions failed: their error, not the
			// blobs' cancellation.
			return cause
		}
		return err
	}
	pl.log.Info("blobs placed", "after", time.Since(t0))
	// A re-run writes no manifest or tag already in place, so no request
	// of it would wait: the advisories, and the second generation check,
	// come only once the first passed.
	if err := pl.ready(ctx); err != nil {
		return err
	}
	// Told once the bundle is taken (the check passed), not for one refused.
	if pl.left != nil {
		pl.log.Warn("bundle files not carried: they are not the ones its signing or checksums vouch for; they stay behind", "files", pl.left.Files, "reason", pl.left.Reason)
	}
	// Bytes after an archive's end, told as verify tells them: import and
	// push took such a copy in silence. A stream has been read to its end
	// by now; an error reading them (the medium's) ends the placement
	// before any manifest or tag is written, as it fails verify.
	if err := warnTrailing(pl.src.name, pl.src.trailing, pl.log); err != nil {
		return fmt.Errorf("%s: %w", pl.src.name, err)
	}
	if err := pl.manifests(ctx, asked); err != nil {
		return err
	}
	// The generation check ran again beside the manifests' last
	// relisting (manifests): a newer bundle tagged since the first
	// check stops the placement here, before any tag is written.
	pl.log.Info("manifests pushed", "after", time.Since(t0))
	if err := pl.tgt.tag(ctx, pl.plan.tags); err != nil {
		return err
	}
	pl.log.Info("tags placed", "written", pl.tgt.tagged.Load(), "alreadyInPlace", pl.tgt.inPlace.Load())
	for _, k := range pl.tgt.kept {
		pl.log.Warn("cosign tag left as it was: it names another manifest, which may hold this registry's own signatures; the bundle's is in the same repository by digest",
			"tag", k.ref, "names", k.held, "bundle", k.bundle, "toTakeTheBundles", k.takeCommand())
	}
	if pl.adv == nil || len(pl.md.Manifest.Advisories) == 0 {
		// A bundle that carries no advisories (images only) leaves the
		// directory as it was: it withdraws none.
		return nil
	}
	placed, err := pl.adv.finish(ctx, pl.pending, pl.md, pl.log)
	if placed != nil {
		pl.pending = nil
		pl.advisories = placed
	}
	// The tags are written: the operator is told that the bundle is in
	// the registry, and what of the directory is not done.
	var part *advisoriesPartlyPlaced
	switch {
	case err == nil:
	case errors.As(err, &part):
		err = fmt.Errorf("the bundle and its tags are in place, but --advisories-dir %s was updated only in part (%d advisories placed, %d withdrawn ones removed, its record not written): run the import again: %w",
			pl.adv.dir, part.placed, part.removed, part.err)
	case placed == nil:
		err = fmt.Errorf("the bundle and its tags are in place, but --advisories-dir %s was not updated: %w", pl.adv.dir, err)
	default:
		err = fmt.Errorf("the bundle, its tags and its advisories are in place, but %w", err)
	}
	return err
}

// notCarried says which of the bundle's side files the plan leaves out of
// the target, and why; nil if it carries them, or the bundle has none. A
// registry's bundle may have had its files passed over as it was read
// (src.filesLeft): they are left behind all the same, and said so.
func (pl *placer) notCarried() *FilesNotCarried {
	if pl.plan.filesLeft == nil {
		return pl.src.filesLeft
	}
	left := &FilesNotCarried{Reason: pl.plan.filesLeft.Error()}
	for _, name := range filesReferrerNames {
		if _, err := pl.md.File(name); err == nil {
			left.Files = append(left.Files, name)
		}
	}
	return left
}

// blobs places every blob of the plan, from a stream or at random.
func (pl *placer) blobs(ctx context.Context, limit int) error {
	pl.omitted = pl.md.Manifest.OmittedSet()
	// A question asked ahead that fails for good ends the blobs at once
	// (checkAhead), its error the one told.
	bctx, failed := context.WithCancelCause(ctx)
	defer failed(nil)
	spreads, sctx := errgroup.WithContext(bctx)
	spreads.SetLimit(limit)
	pl.spreadCtx = sctx
	var (
		stopAhead func()
		err       error
	)
	if pl.src.stream != nil {
		stopAhead, err = pl.streamBlobs(sctx, spreads, limit, failed)
	} else {
		stopAhead, err = pl.fetchBlobs(sctx, spreads, limit, failed)
	}
	if err != nil {
		stopAhead()
	}
	werr := spreads.Wait()
	// The checks ahead go on while the spreads do: they ask the held
	// blobs' other repositories, which the spreads would ask one after
	// another.
	stopAhead()
	switch {
	case err == nil:
		err = werr
	case werr != nil && ctx.Err() == nil && (errors.Is(err, context.Canceled) || errors.Is(err, werr)):
		// A spread that failed cancelled the uploads and reads still
		// going: its error is the one to tell, not their cancellation
		// (exit 130, "interrupted", for a run nobody interrupted) nor
		// another blob's upload that it cut short.
		err = werr
	}
	if cause := context.Cause(bctx); err != nil && ctx.Err() == nil && errors.Is(err, context.Canceled) && cause != nil && !errors.Is(cause, context.Canceled) {
		// A question ahead that failed ended the uploads and reads
		// still going: its error, not their cancellation.
		err = cause
	}
	return err
}

// streamBlobs reads the archive once, front to back: every blob entry must
// be one the bundle names, with its declared size, and is sent to its
// first repository (hashed on the way) and spread to the others; human-view
// copies are skipped. Blobs the archive lacks must already be in the
// target. Whether the target holds each blob does not depend on the
// stream: it is asked ahead, limit at a time, in the order pack writes
// blobs (streamOrder), so that a blob's upload starts with its answer in
// hand, and the stream waits for no HEAD in its own turn. It returns the
// function that stops the checks ahead (checkAhead), which the spreads
// queued may still use.
func (pl *placer) streamBlobs(ctx context.Context, spreads *errgroup.Group, limit int, failed context.CancelCauseFunc) (stop func(), err error) {
	// A panic (a bug) is the stream's error, as in fetchBlobs.
	stop = func() {}
	defer errdef.Recover(&err)
	docs := pl.plan.manifestDigests()
	human := map[string]int64{}
	var declared int64
	for _, f := range pl.md.Manifest.HumanView() {
		human[f.Path] = f.Size
		declared += f.Size
	}
	for _, b := range pl.plan.blobs {
		declared += b.desc.Size
	}
	for _, m := range docs {
		declared += m
	}
	held, stopAhead := pl.tgt.checkAhead(ctx, streamOrder(pl.plan.blobs), limit, pl.plan.held, false, failed)
	stop = stopAhead
	done := map[digest.Digest]bool{}
	behind, bctx := errgroup.WithContext(ctx)
	behind.SetLimit(streamPipeline)
	err = streamRecovered(pl.src.stream, declared+layout.DefaultTarLimit, func(e *layout.Entry, r io.Reader) error {
		if dg, ok := layout.BlobDigest(e.Name); ok {
			if _, isDoc := docs[dg]; isDoc {
				return nil
			}
			b := pl.plan.byDig[dg]
			if b == nil {
				return fmt.Errorf("%s: archive entry %s is not part of the bundle: %w", pl.src.name, e.Name, errdef.ErrMalformed)
			}
			if e.Size != b.desc.Size {
				return fmt.Errorf("%s: archive entry %s has %d bytes, its descriptor says %d: %w", pl.src.name, e.Name, e.Size, b.desc.Size, errdef.ErrDigestMismatch)
			}
			done[dg] = true
			return pl.placeBehind(bctx, behind, spreads, b, r, held[b])
		}
		if size, ok := human[e.Name]; ok {
			if size != e.Size {
				return fmt.Errorf("%s: archive entry %s has %d bytes, manifest.json says %d: %w", pl.src.name, e.Name, e.Size, size, errdef.ErrDigestMismatch)
			}
			return nil
		}
		if layout.IsHeadFile(e.Name) {
			return nil
		}
		if err := clutterEntryError(pl.src.name+": ", e.Name); err != nil {
			return err
		}
		return fmt.Errorf("%s: archive entry %q is not part of the bundle: %w", pl.src.name, e.Name, errdef.ErrMalformed)
	})
	if werr := behind.Wait(); werr != nil && (err == nil || errors.Is(err, context.Canceled)) {
		// The upload's own error, not the cancellation it caused.
		err = werr
	}
	if err != nil {
		return stop, err
	}
	for _, b := range pl.plan.blobs {
		if done[b.desc.Digest] {
			continue
		}
		ok, err := held[b].wait(ctx)
		if err != nil {
			return stop, err
		}
		if !ok {
			// Missing content is a mismatch (exit 2), as verify and serve
			// report it: the bundle does not hold what was signed.
			return stop, fmt.Errorf("%s: archive lacks blob %s and %s/%s does not have it (truncated archive?): %w", pl.src.name, b.desc.Digest, pl.tgt.host, b.repos[0], errdef.ErrDigestMismatch)
		}
		if pl.wantsOnDisk(b) {
			// An advisory the archive lacks (a delta omits those its base
			// carried) is still written, from the target's verified copy,
			// with the answer in hand: asking again cost a round trip.
			if err := pl.placeFromTarget(ctx, spreads, b, held[b]); err != nil {
				return stop, err
			}
			continue
		}
		pl.tgt.skipped.Add(1)
		spreads.Go(func() error { return pl.tgt.spread(ctx, b, held[b], false) })
	}
	return stop, nil
}

// streamRecovered is stream(limit, fn), a panic (a bug) of the stream's
// reading or of fn its error: the uploads behind the stream are then still
// waited for (streamBlobs), not left to queue spreads that no one waits.
func streamRecovered(stream func(int64, func(*layout.Entry, io.Reader) error) error, limit int64, fn func(*layout.Entry, io.Reader) error) (err error) {
	defer errdef.Recover(&err)
	return stream(limit, fn)
}

// ready waits until the placement may write: at once without a check
// beside it (writes), else once the check passed.
func (pl *placer) ready(ctx context.Context) error {
	if pl.writes == nil {
		return nil
	}
	return pl.writes.Wait(ctx)
}

// wantsOnDisk reports whether b is an advisory to be written to the
// advisories directory.
func (pl *placer) wantsOnDisk(b *blobPlace) bool {
	return pl.adv != nil && len(pl.plan.advisories[b.desc.Digest]) > 0
}

// placeFromTarget places b from the copy its first repository already
// holds (read, hashed and written to its advisory files on the way): the
// bytes of a blob a delta omits are in the target, not in the source.
// held is whether it is there, if asked already (nil: asked now).
func (pl *placer) placeFromTarget(ctx context.Context, spreads *errgroup.Group, b *blobPlace, held *blobAnswer) error {
	from, err := pl.tgt.repo(b.repos[0])
	if err != nil {
		return err
	}
	rc, err := from.Fetch(ctx, b.desc)
	if err != nil {
		return fmt.Errorf("blob %s in %s/%s: %w", b.desc.Digest, pl.tgt.host, b.repos[0], remote.Classify(err))
	}
	defer rc.Close()
	return pl.place(ctx, spreads, b, rc, held)
}

// fetchLargestFirst runs fetchBlobs' reads largest first, small ones
// beside (a variable: a test puts a bug in it).
var fetchLargestFirst = transfer.LargestFirstWithSmall[*blobPlace]

// fetchBlobs reads every blob at random, limit at a time largest first,
// and the small ones beside them (transfer.LargestFirstWithSmall). It
// returns the function that stops the checks ahead, as streamBlobs does.
func (pl *placer) fetchBlobs(ctx context.Context, spreads *errgroup.Group, limit int, failed context.CancelCauseFunc) (stop func(), err error) {
	// A panic (a bug) of the reads is their error, the checks ahead still
	// stopped by blobs: it went up through blobs with them left asking.
	stop = func() {}
	defer errdef.Recover(&err)
	size := func(b *blobPlace) int64 { return b.desc.Size }
	// Whether the target holds each blob not wanted on disk is asked ahead,
	// in the same order; a blob known to be held (a delta's omitted one,
	// wanted on disk or not) has its answer already, at no cost.
	var ask []*blobPlace
	for _, b := range pl.plan.blobs {
		if !pl.wantsOnDisk(b) || pl.plan.held[b.desc.Digest] {
			ask = append(ask, b)
		}
	}
	held, stopAhead := pl.tgt.checkAhead(ctx, ask, limit, pl.plan.held, true, failed)
	stop = stopAhead
	return stop, fetchLargestFirst(ctx, pl.plan.blobs, size, limit, func(ctx context.Context, b *blobPlace) error {
		return pl.fetchBlob(ctx, spreads, b, held[b])
	})
}

// fetchBlob places b, read at random from the source, unless the target
// holds it already (held: asked ahead, nil if not asked).
func (pl *placer) fetchBlob(ctx context.Context, spreads *errgroup.Group, b *blobPlace, held *blobAnswer) error {
	// Unless its bytes are wanted on disk, a blob the target has (or
	// can mount from the source repository, in the same registry)
	// is not read at all.
	if held != nil && !pl.wantsOnDisk(b) {
		done, fresh, err := pl.avoidCopy(ctx, b, held)
		if err != nil {
			return err
		}
		if done {
			spreads.Go(func() error { return pl.tgt.spread(pl.spreadCtx, b, held, fresh) })
			return nil
		}
	}
	if pl.wantsOnDisk(b) && pl.omitted[b.desc.Digest] {
		// Omitted by a delta: not in the source, but in the target
		// (checkDeltaBase made sure of it).
		return pl.placeFromTarget(ctx, spreads, b, held)
	}
	if pl.src.openAt != nil && (len(pl.plan.advisories[b.desc.Digest]) == 0 || pl.adv == nil) {
		ra, closer, err := pl.src.openAt(ctx, b.desc)
		if err != nil {
			return sourceContentError{pl.src.blobError(b.desc.Digest, missingIsMismatch(err))}
		}
		defer closer.Close()
		if err := pl.tgt.uploadAt(ctx, b.repos[0], b.desc, ra); err != nil {
			return pl.sourceFault(err, b)
		}
		spreads.Go(func() error { return pl.tgt.spread(pl.spreadCtx, b, held, true) })
		return nil
	}
	rc, err := pl.src.fetch(remote.Streaming(ctx), b.desc)
	if err != nil {
		if pl.src.layout {
			err = missingIsMismatch(err)
		}
		return sourceContentError{pl.src.blobError(b.desc.Digest, remote.Classify(err))}
	}
	defer rc.Close()
	// A source that can seek (a registry that serves ranges) is read
	// like a file: nothing is buffered, a retry asks for the range.
	if rs, ok := rc.(io.ReadSeeker); ok && (len(pl.plan.advisories[b.desc.Digest]) == 0 || pl.adv == nil) {
		if err := pl.tgt.uploadAt(ctx, b.repos[0], b.desc, transfer.NewSeekReaderAt(rs, b.desc.Size)); err != nil {
			return pl.sourceFault(err, b)
		}
		spreads.Go(func() error { return pl.tgt.spread(pl.spreadCtx, b, held, true) })
		return nil
	}
	return pl.sourceFault(pl.place(ctx, spreads, b, rc, held), b)
}

// sourceFault names the source in an error of content read from it that is
// not what its digest says: the archive, directory or source registry is at
// fault, not the target the upload was going to (its host and repository
// would send the operator to the wrong side of the gap).
// A frame of a seekable archive that fails is told with the blob read
// through it.
func (pl *placer) sourceFault(err error, b *blobPlace) error {
	var bad *bundle.ContentError
	if errors.As(err, &bad) {
		return sourceContentError{fmt.Errorf("%s: its copy of blob %s is damaged or altered: %s: %w", pl.src.name, bad.Digest, bad.Detail, errdef.ErrDigestMismatch)}
	}
	var frame *layout.FrameError
	if errors.As(err, &frame) {
		return sourceContentError{fmt.Errorf("%s: its copy of blob %s: %w", pl.src.name, b.desc.Digest, frame)}
	}
	return err
}

// avoidCopy reports whether b's first repository already holds it (as
// answered, asked ahead), or got it by a mount from the source repository
// (sync within one registry); fresh, if it got it so.
func (pl *placer) avoidCopy(ctx context.Context, b *blobPlace, held *blobAnswer) (done, fresh bool, err error) {
	ok, err := held.wait(ctx)
	if err != nil || ok {
		if ok {
			pl.tgt.skipped.Add(1)
		}
		return ok, false, err
	}
	if pl.mountFrom == "" {
		return false, false, nil
	}
	u, err := pl.tgt.uploader(b.repos[0])
	if err != nil {
		return false, false, err
	}
	mounted, err := u.Mount(ctx, b.desc, pl.mountFrom)
	if mounted {
		pl.tgt.mounted.Add(1)
	}
	return mounted, mounted, err
}

// place sends one blob to its first repository, unless it is there (as
// held answers, if asked ahead; else asked now), and queues its spread to
// the others. An advisory is also written to a temporary file of the
// advisories directory, kept only once its bytes verified, and moved into
// place when the whole placement is done.
func (pl *placer) place(ctx context.Context, spreads *errgroup.Group, b *blobPlace, r io.Reader, held *blobAnswer) error {
	var adv *pendingAdvisory
	if paths := pl.plan.advisories[b.desc.Digest]; len(paths) > 0 && pl.adv != nil {
		if err := pl.ready(ctx); err != nil {
			return err
		}
		var err error
		if adv, err = pl.adv.create(b.desc, paths); err != nil {
			return err
		}
		r = io.TeeReader(r, adv.writer())
	}
	fresh, err := pl.send(ctx, b, r, adv != nil, held)
	if adv != nil {
		if werr := adv.failedWrite(); werr != nil {
			err = werr
		}
		if err == nil {
			err = adv.close()
		}
		if err != nil {
			adv.abort()
		} else {
			pl.mu.Lock()
			pl.pending = append(pl.pending, adv)
			pl.mu.Unlock()
		}
	}
	if err != nil {
		return err
	}
	spreads.Go(func() error { return pl.tgt.spread(pl.spreadCtx, b, held, fresh) })
	return nil
}

// streamPipeline is how many blobs of a stream may be in flight: the
// stream moves on to the next blob once a blob is read into the chunk pool,
// while its chunks are still being sent, so that the registry takes several
// blobs at once.
const streamPipeline = 4

// placeBehind places b from r in the group behind, and returns once the
// upload has read and verified r to its end (or the placement ended), so
// that the stream goes on while the blob's last chunks are sent. An error
// in reading r is returned here, so that it is reported where the stream
// stands (a split archive names its volume).
func (pl *placer) placeBehind(ctx context.Context, behind, spreads *errgroup.Group, b *blobPlace, r io.Reader, held *blobAnswer) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	end := newStreamEnd(r)
	behind.Go(func() error {
		defer end.StreamEnded(nil)
		return pl.sourceFault(pl.place(ctx, spreads, b, end, held), b)
	})
	<-end.done
	return pl.sourceFault(end.err, b)
}

// send uploads b from r into its first repository unless it is there: as
// held answers, if the question was asked ahead (nil: asked now). With
// mustRead, content that is not sent is still read and verified. It
// reports whether it sent b.
func (pl *placer) send(ctx context.Context, b *blobPlace, r io.Reader, mustRead bool, held *blobAnswer) (bool, error) {
	var ok bool
	var err error
	if held != nil {
		ok, err = held.wait(ctx)
	} else {
		ok, err = pl.tgt.hasBlob(ctx, b.repos[0], b.desc)
	}
	if err != nil {
		return false, err
	}
	if !ok {
		return true, pl.tgt.upload(ctx, b.repos[0], b.desc, r)
	}
	pl.tgt.skipped.Add(1)
	if mustRead {
		_, err = io.Copy(io.Discard, bundle.NewVerifyReader(r, b.desc))
	}
	return false, err
}

// manifests pushes the manifests children first: images, then (once the
// registry's referrers support is known) the rest in one phase: image
// referrers, the bundle metadata and root, and the signature and the files
// referrer after the root. Whether the target holds each was asked of
// them all at once while the blobs went (askManifests): one round of HEADs
// beside the blobs, not one before the images and another after them.
// The referrers probe goes beside the images' waves after the first (a
// registry may answer a probe of a repository that holds no manifest yet
// as if it had no referrers API), and the generation check again (recheck)
// beside the last relisting of referrers: each was a round trip of its
// own after them.
func (pl *placer) manifests(ctx context.Context, asked *manifestsAhead) error {
	present, err := asked.wait(ctx)
	if err != nil {
		return err
	}
	probe := pl.plan.bundleRepo
	if len(pl.plan.images) > 0 {
		probe = pl.plan.images[0].repo
	}
	detect := func(ctx context.Context) error {
		mode, err := pl.tgt.detectReferrers(ctx, probe, pl.md.RootDesc.Digest)
		if err == nil {
			pl.log.Info("referrers", "mode", mode)
		}
		return err
	}
	if err := pl.tgt.pushPhase(ctx, pl.plan.images, present, &besideWaves{after: 1, run: detect}); err != nil {
		return err
	}
	// The images are in place now: a later phase naming one again (an
	// image that is also another's referrer) finds it there, as it would
	// have asked.
	for _, m := range pl.plan.images {
		present[repoDigest{m.repo, m.desc.Digest}] = true
	}
	var recheck *besideWaves
	if pl.recheck != nil {
		recheck = &besideWaves{after: afterWaves, run: pl.recheck}
	}
	// The rest go as one phase: its waves keep the root after what it
	// names (the images' referrers, the bundle's metadata) and the
	// signature and the files after the root, with one relisting of the
	// referrers after them all. Phase after phase, each with its own
	// relisting, took four round trips more.
	return pl.tgt.pushPhase(ctx, slices.Concat(pl.plan.manifestPhases()[1:]...), present, recheck)
}

// manifestPhases are the plan's manifests as they are pushed: the images
// first, then the rest (manifests).
func (p *placement) manifestPhases() [][]manifestPlace {
	return [][]manifestPlace{p.images, p.referrers, p.root, p.signature, p.files}
}

// manifestDigests lists every manifest of the plan with its size.
func (p *placement) manifestDigests() map[digest.Digest]int64 {
	out := map[digest.Digest]int64{}
	for _, phase := range p.manifestPhases() {
		for _, m := range phase {
			out[m.desc.Digest] = m.desc.Size
		}
	}
	return out
}
