package mirror

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"strings"

	"github.com/opencontainers/go-digest"
	oremote "oras.land/oras-go/v2/registry/remote"

	"github.com/stellaops/mirror/internal/errgroup"
	"github.com/stellaops/mirror/pkg/errdef"
	"github.com/stellaops/mirror/pkg/remote"
	"github.com/stellaops/mirror/pkg/transfer"
)

// keptTag is a cosign tag left as it was: it names held, where the
// bundle carries bundle under it.
type keptTag struct {
	ref          string
	held, bundle digest.Digest
}

// takeCommand is the command that moves the tag to the bundle's manifest.
func (k keptTag) takeCommand() string {
	i := strings.LastIndex(k.ref, ":")
	return "oras tag " + k.ref[:i] + "@" + k.bundle.String() + " " + k.ref[i+1:]
}

func (t *target) keptRefs() []string {
	var out []string
	for _, k := range t.kept {
		out = append(out, k.ref)
	}
	return out
}

// keepTag reports whether tg, a cosign tag, is to be left as it is: it
// already serves the bundle's manifest (its HEAD names it, and a GET
// answers its bytes: servesTag; counted in place), or another
// manifest that no bundle imported into tg.ours carried (returned, for
// t.kept). A tag naming a manifest of ours, which an earlier import wrote
// before the upstream signed again, is not kept: the bundle's manifest
// (the newer signatures) replaces it. One HEAD, and a GET where it names
// the bundle's manifest or a HEAD where another.
func (t *target) keepTag(ctx context.Context, r *oremote.Repository, tg tagPlace) (bool, *keptTag, error) {
	got, err := resolveTag(ctx, r, tg.tag)
	switch {
	case isNotFound(err):
		return false, nil, nil
	case err != nil:
		return false, nil, fmt.Errorf("tag %s/%s:%s: %w", t.host, tg.repo, tg.tag, remote.Classify(err))
	case got.Digest == tg.desc.Digest && t.servesTag(ctx, r, tg):
		t.inPlace.Add(1)
		return true, nil, nil
	}
	// In the image's own repository (--bundle-repo naming it), holding a
	// manifest says nothing of whose it is: the far side's signatures are
	// there too.
	if tg.ours != "" && tg.ours != tg.repo {
		own, err := t.repo(tg.ours)
		if err != nil {
			return false, nil, err
		}
		held, err := own.Manifests().Resolve(ctx, got.Digest.String())
		switch {
		case err == nil && held.Digest == got.Digest:
			return false, nil, nil
		case err != nil && !isNotFound(err):
			return false, nil, fmt.Errorf("tag %s/%s:%s names %s: look for it in %s: %w", t.host, tg.repo, tg.tag, got.Digest, tg.ours, remote.Classify(err))
		}
	}
	return true, &keptTag{ref: t.host + "/" + tg.repo + ":" + tg.tag, held: got.Digest, bundle: tg.desc.Digest}, nil
}

// inPlaceTag reports whether tg's tag already serves its manifest: then
// there is nothing to write, and a re-run (which operators make as a
// check) passes on a registry that takes no push (read-only mode, a
// pull-through cache). The manifest itself was pushed, or found present by
// digest, before any tag. The tag's manifest is read (GET) and must be
// the bundle's bytes, byte for byte, under its digest (servesTag): a
// HEAD's Docker-Content-Digest is only what the registry, or a front
// caching its answers, says, and a stale or lying one would leave a moved
// tag naming other content where a write would have put it back. Any other answer (other bytes, a failed
// read) has the tag written and read back as ever. A manifest this run
// pushed is named by no tag yet: its tag is not asked about (a first
// import costs no request more).
func (t *target) inPlaceTag(ctx context.Context, r *oremote.Repository, tg tagPlace) bool {
	t.mu.Lock()
	fresh := t.pushedHere[repoDigest{tg.repo, tg.desc.Digest}]
	t.mu.Unlock()
	return !fresh && t.servesTag(ctx, r, tg)
}

// servesTag reports whether a GET of tg's tag answers the bundle's
// manifest, byte for byte, under its digest (see inPlaceTag).
func (t *target) servesTag(ctx context.Context, r *oremote.Repository, tg tagPlace) bool {
	got, rc, err := r.Manifests().FetchReference(ctx, tg.tag)
	if err != nil {
		return false
	}
	defer rc.Close()
	// Bounded by the bundle's own manifest: one byte more is other content.
	data, err := io.ReadAll(io.LimitReader(rc, int64(len(tg.data))+1))
	return err == nil && got.Digest == tg.desc.Digest && bytes.Equal(data, tg.data)
}

// tag writes the tags and reads each back (a failure told with how many
// were written before it): a registry that rewrote the
// manifest without saying so, or took the write and did not apply it,
// names other content by the tag, which a generation check (which reads
// the tags) would then trust. A tag already serving its manifest is left
// as it is (inPlaceTag). One HEAD a tag over a manifest this run pushed;
// over one found present, a GET, and a HEAD if it is written. Every tag but the last is
// written at once (at most Concurrency in flight); the last (the bundle's
// own, which a generation check reads) only once they all are. The tags
// kept (keepTag) are recorded in tags' order.
func (t *target) tag(ctx context.Context, tags []tagPlace) error {
	if len(tags) == 0 {
		return nil
	}
	kept := make([]*keptTag, len(tags))
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(concurrency(t.opts.Concurrency))
	before := t.tagged.Load()
	for i, tg := range tags[:len(tags)-1] {
		g.Go(func() (err error) {
			kept[i], err = t.tagOne(gctx, tg)
			return err
		})
	}
	err := g.Wait()
	if written := t.tagged.Load() - before; err != nil && written > 0 && ctx.Err() == nil {
		// No registry writes several tags as one: those written name
		// the new bundle's whole images, and the bundle's own tag, which
		// the generation check and inventory read, still names the old.
		err = fmt.Errorf("%w (%d tags written before it name the new bundle's images, whole; the bundle's own tag is not written: run the same command again once the registry takes them)", err, written)
	}
	if err == nil {
		last := len(tags) - 1
		kept[last], err = t.tagOne(ctx, tags[last])
	}
	for _, k := range kept {
		if k != nil {
			t.kept = append(t.kept, *k)
		}
	}
	return err
}

// tagOne writes one tag and reads it back (see tag), unless it already
// names the manifest (inPlace); a cosign tag left as it is, naming another
// manifest, is returned.
func (t *target) tagOne(ctx context.Context, tg tagPlace) (*keptTag, error) {
	r, err := t.repo(tg.repo)
	if err != nil {
		return nil, err
	}
	if tg.keep {
		keep, kept, err := t.keepTag(ctx, r, tg)
		if err != nil || keep {
			return kept, err
		}
	} else if t.inPlaceTag(ctx, r, tg) {
		t.inPlace.Add(1)
		return nil, nil
	}
	perr := r.Manifests().PushReference(ctx, tg.desc, bytes.NewReader(tg.data), tg.tag)
	if perr != nil && ctx.Err() != nil {
		return nil, fmt.Errorf("tag %s/%s:%s: %w", t.host, tg.repo, tg.tag, remote.Classify(perr))
	}
	// Read back after a refusal too: a registry that answered with
	// another digest than the one sent may have written the tag. After
	// a write it took, a registry that serves a tag a moment late is
	// asked again, with the transfer's backoff, before this fails.
	err = transfer.Retry(ctx, t.opts.Attempts, t.opts.Backoff, func() (bool, error) {
		got, rerr := resolveTag(ctx, r, tg.tag)
		switch {
		case rerr == nil && got.Digest == tg.desc.Digest:
			return false, nil
		case perr != nil:
			// Refused, the tag names what it named before, if anything:
			// the refusal is the cause (a tag immutability rule, no
			// push right), not a registry rewriting what it took.
			return false, fmt.Errorf("tag %s/%s:%s: %w", t.host, tg.repo, tg.tag, remote.Classify(perr))
		case rerr == nil:
			return true, fmt.Errorf("tag %s/%s:%s names %s after %s was written to it (the registry rewrote the manifest, or serves a stale tag): %w",
				t.host, tg.repo, tg.tag, got.Digest, tg.desc.Digest, errdef.ErrDigestMismatch)
		case isNotFound(rerr):
			return true, fmt.Errorf("tag %s/%s:%s is not found after %s was written to it (the registry lost the write): %w",
				t.host, tg.repo, tg.tag, tg.desc.Digest, errdef.ErrUnavailable)
		default:
			return false, fmt.Errorf("tag %s/%s:%s: read back: %w", t.host, tg.repo, tg.tag, remote.Classify(rerr))
		}
	})
	if err != nil {
		return nil, err
	}
	t.tagged.Add(1)
	return nil, nil
}
