package mirror

import (
	"context"
	"fmt"
	"slices"
	"time"

	oremote "oras.land/oras-go/v2/registry/remote"

	"github.com/stellaops/mirror/internal/errgroup"
	"github.com/stellaops/mirror/pkg/errdef"
)

// listedTagRereads are the waits before a listed tag that reads "not
// there" is read again. A registry lists a tag from the moment it starts
// writing it: distribution makes the tag's directory, which its tag list
// reads, and only then the link the tag resolves by. So a tag written
// beside a reader (another import of the same release, another site's
// sync) can be listed a moment before it can be read. A tag still not
// there after these (1.55 s in all), and listed still, fails the reader,
// as it always did: a tag the registry lists but will not give may hide a
// newer bundle.
var listedTagRereads = []time.Duration{50 * time.Millisecond, 100 * time.Millisecond, 200 * time.Millisecond, 400 * time.Millisecond, 800 * time.Millisecond}

// rereadListedTag reads a listed tag again while it reads "not there" (got
// and err are its first read), waiting listedTagRereads between reads.
func (t *target) rereadListedTag(ctx context.Context, r *oremote.Repository, repo, tag string, got taggedRoot, err error) (taggedRoot, error) {
	for _, wait := range listedTagRereads {
		if err == nil || !isNotFound(err) {
			return got, err
		}
		timer := time.NewTimer(wait)
		select {
		case <-timer.C:
		case <-ctx.Done():
			timer.Stop()
			return taggedRoot{}, ctx.Err()
		}
		got, err = t.readTaggedRoot(ctx, r, repo, tag, false)
	}
	if err != nil && isNotFound(err) {
		return taggedRoot{}, fmt.Errorf("read %s/%s:%s: listed, but still not there after %d reads: %w", t.host, repo, tag, len(listedTagRereads)+1, errdef.ErrNotFound)
	}
	return got, err
}

// listedTagsGone settles the listed tags that read "not there" once every
// tag is read (gone[i] holds that first answer; read[i] gets what the tag
// then names). Such a tag was deleted since the list (another operator's
// clean-up, a retention job), or is being written (listed a moment before
// it can be read). The tags are listed once more, once for them all: a tag
// that list no longer names was deleted, and counts as it would had the
// first list not named it, as nothing. A tag it still names is read again
// while it may be being written (rereadListedTag), and fails the check if
// it never appears.
func (t *target) listedTagsGone(ctx context.Context, r *oremote.Repository, repo string, tags []string, read []taggedRoot, gone []error) error {
	if !slices.ContainsFunc(gone, func(err error) bool { return err != nil }) {
		return nil
	}
	relisted, err := t.listTags(ctx, r, repo)
	if err != nil {
		return err
	}
	still := make(map[string]bool, len(relisted))
	for _, tag := range relisted {
		still[tag] = true
	}
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(concurrency(t.opts.Concurrency))
	for i, first := range gone {
		if first == nil || !still[tags[i]] {
			continue
		}
		g.Go(func() (err error) {
			read[i], err = t.rereadListedTag(gctx, r, repo, tags[i], taggedRoot{}, first)
			return err
		})
	}
	return g.Wait()
}
