package mirror

import (
	"context"
	"log/slog"
	"slices"
	"sort"

	"github.com/opencontainers/go-digest"

	"github.com/stellaops/mirror/internal/errgroup"
)

// heldBundle is the newest bundle a bundle repository holds: what the
// rollback check compares a bundle with.
type heldBundle struct {
	generation int64
	root       digest.Digest
	version    string
}

// generation returns the newest bundle tagged in repo (listed, or among
// also) whose signature verifies under trust; the zero heldBundle when
// there is none. A root that does not verify is named in a warning and
// passed over: anyone who may push to the repository could otherwise push
// a root of a huge generation and have every later import refused as a
// rollback.
//
// The roots are tried newest first, by the generation their root index
// claims, and the first that verifies ends the search. That is enough:
// a verified root's claim is its signed generation (the root must be the
// one its signed manifest.json makes), and every root after it claims no
// more, so none that verifies could be newer. So the check costs one
// verification where nobody forged a root, as import's own.
//
// Where the newest claim does not verify, the rest are tried in waves of
// the run's concurrency, each wave's at once, in order of claim: the first
// of a wave that verifies is the newest, as every root before it was
// refused. Roots pushed by anyone claiming more than the newest verified
// then cost the check a round trip a wave, not one a root (7 requests a
// root: verifyHeldRoot), though every one is still verified.
//
// More than MaxUnverifiedRoots roots that do not verify, all claiming
// more than the newest that does, fail the check (tooManyUnverified): a
// repository flooded with forged roots costs each import at most that
// many verifications, not one a root pushed.
//
// Without trust (push and sync that verify nothing) every root counts, as
// it always did: unverified, a root can only make the check refuse more.
func (t *target) generation(ctx context.Context, repo string, trust TrustOptions, log *slog.Logger, also ...string) (heldBundle, error) {
	roots, _, err := t.bundleRoots(ctx, repo, also...)
	if err != nil {
		return heldBundle{}, err
	}
	sort.SliceStable(roots, func(i, j int) bool { return roots[i].entry.Generation > roots[j].entry.Generation })
	if n := slices.IndexFunc(roots, func(r bundleRoot) bool { return r.entry.Generation <= 0 }); n >= 0 {
		roots = roots[:n] // no generation: older than any bundle
	}
	held := func(r bundleRoot) heldBundle {
		return heldBundle{generation: r.entry.Generation, root: r.desc.Digest, version: r.entry.Version}
	}
	if trust.Empty() {
		if len(roots) == 0 {
			return heldBundle{}, nil
		}
		return held(roots[0]), nil
	}
	refused := 0
	for width := 1; len(roots) > 0; width = concurrency(t.opts.Concurrency) {
		wave := roots[:min(width, len(roots))]
		roots = roots[len(wave):]
		errs := make([]error, len(wave))
		// A root that could not be checked (the registry gone down) ends
		// the check where no root before it verifies: those after it,
		// which would decide nothing then, are stopped as it fails, not
		// waited for through their own chains of retries.
		ctxs := make([]context.Context, len(wave))
		stops := make([]context.CancelFunc, len(wave))
		for i := range wave {
			ctxs[i], stops[i] = context.WithCancel(ctx)
		}
		var g errgroup.Group
		for i, r := range wave {
			g.Go(func() error {
				errs[i] = t.verifyHeldOnce(ctxs[i], repo, r, trust, log)
				if errs[i] != nil && !refusesRoot(errs[i]) && ctxs[i].Err() == nil {
					for _, stop := range stops[i+1:] {
						stop()
					}
				}
				return nil
			})
		}
		err := g.Wait()
		for _, stop := range stops {
			stop()
		}
		if err != nil {
			// A panic (a bug), its root's error left nil: never taken
			// for the root verified.
			return heldBundle{}, err
		}
		for i, r := range wave {
			switch err := errs[i]; {
			case err == nil:
				return held(r), nil
			case !refusesRoot(err):
				return heldBundle{}, err
			default:
				t.warnSkipped(log, skipFor(r, err))
				if refused++; refused > MaxUnverifiedRoots {
					return heldBundle{}, tooManyUnverified(t.host, repo)
				}
			}
		}
	}
	return heldBundle{}, nil
}

// verifyHeldOnce is verifyHeldRoot, its answer kept for the run: the
// check runs again before the first tag is written, with the same trust,
// and a root is named by its digest, so its answer cannot change but by
// referrers attached or removed in between. An error that is not the
// root's (refusesRoot) is not kept.
func (t *target) verifyHeldOnce(ctx context.Context, repo string, r bundleRoot, trust TrustOptions, log *slog.Logger) error {
	key := repo + "@" + r.desc.Digest.String()
	t.mu.Lock()
	err, ok := t.heldChecked[key]
	t.mu.Unlock()
	if ok {
		return err
	}
	_, err = t.verifyHeldRoot(ctx, repo, r, trust, log)
	if err == nil || refusesRoot(err) {
		t.mu.Lock()
		if t.heldChecked == nil {
			t.heldChecked = map[string]error{}
		}
		t.heldChecked[key] = err
		t.mu.Unlock()
	}
	return err
}

// warnSkipped names a root the rollback check passed over, once a run.
func (t *target) warnSkipped(log *slog.Logger, s SkippedRoot) {
	t.mu.Lock()
	if t.warned == nil {
		t.warned = map[digest.Digest]bool{}
	}
	first := !t.warned[s.Root]
	t.warned[s.Root] = true
	t.mu.Unlock()
	if first {
		logger(log).Warn("rollback check: " + s.String() + " (not counted as held)")
	}
}
