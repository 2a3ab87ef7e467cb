package mirror

import (
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"sync"

	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	oremote "oras.land/oras-go/v2/registry/remote"

	"github.com/stellaops/mirror/internal/errgroup"
	"github.com/stellaops/mirror/pkg/bundle"
	"github.com/stellaops/mirror/pkg/errdef"
	"github.com/stellaops/mirror/pkg/remote"
	"github.com/stellaops/mirror/pkg/transfer"
)

// pushManifests pushes each manifest of the phases (skipping those
// present), phase after phase: one repository's in waves (see
// manifestWaves: children before parents, as the phase orders them) and
// repositories in parallel. Whether each is present is asked of all the
// phases' at once, before the first is pushed: a round trip for the lot,
// not one a manifest.
func (t *target) pushManifests(ctx context.Context, phases ...[]manifestPlace) error {
	present, err := t.presentManifests(ctx, phases)
	if err != nil {
		return err
	}
	for _, list := range phases {
		if err := t.pushPhase(ctx, list, present, nil); err != nil {
			return err
		}
	}
	return nil
}

// presentManifests asks, all at once (at most Concurrency in flight),
// which of the phases' manifests the target holds: the set of those it
// does, by repository and digest.
func (t *target) presentManifests(ctx context.Context, phases [][]manifestPlace) (map[repoDigest]bool, error) {
	// Answers by phase and place: the places themselves are not copied
	// into one list (a 160-byte copy of every manifest of the bundle).
	held := make([][]bool, len(phases))
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(concurrency(t.opts.Concurrency))
	for p, list := range phases {
		held[p] = make([]bool, len(list))
		for i := range list {
			m := &list[i]
			g.Go(func() error {
				r, err := t.repo(m.repo)
				if err != nil {
					return err
				}
				ok, err := r.Manifests().Exists(gctx, m.desc)
				if err != nil {
					return fmt.Errorf("manifest %s in %s/%s: %w", m.desc.Digest, t.host, m.repo, remote.Classify(err))
				}
				held[p][i] = ok
				return nil
			})
		}
	}
	if err := g.Wait(); err != nil {
		return nil, err
	}
	out := map[repoDigest]bool{}
	for p, list := range phases {
		for i, m := range list {
			if held[p][i] {
				out[repoDigest{m.repo, m.desc.Digest}] = true
			}
		}
	}
	return out, nil
}

// besideWaves is work a phase does beside its pushes (pushPhase):
// started once its first after waves are in, or with afterWaves beside
// the relisting after them all. It only reads, or sets what the pushes
// after it read (the referrers mode); its error is told after the
// phase's own.
type besideWaves struct {
	after int
	run   func(context.Context) error
}

// afterWaves starts a phase's besideWaves once all its waves are in.
const afterWaves = -1

// pushPhase pushes the manifests of list that are not present, one
// repository's in waves and repositories side by side, then makes sure each
// referrer is listed (relistReferrers), with beside, if set, going
// alongside. The repositories' waves go together, wave after wave, so
// that Concurrency bounds the manifests in flight for them all, as it
// bounds the blobs. The relisting is as the referrers mode was when the
// phase began.
func (t *target) pushPhase(ctx context.Context, list []manifestPlace, present map[repoDigest]bool, beside *besideWaves) error {
	t.mu.Lock()
	mode := t.mode
	t.mu.Unlock()
	byRepo := map[string][]manifestPlace{}
	var order []string
	for _, m := range list {
		if _, ok := byRepo[m.repo]; !ok {
			order = append(order, m.repo)
		}
		byRepo[m.repo] = append(byRepo[m.repo], m)
	}
	// A push points into byRepo's lists: a copy of each manifest's place
	// a wave was a whole place more for every manifest of the bundle.
	type push struct {
		r *oremote.Repository
		m *manifestPlace
	}
	var waves [][]push
	repos := map[string]*oremote.Repository{}
	for _, repo := range order {
		r, err := t.repo(repo)
		if err != nil {
			return err
		}
		repos[repo] = r
		list := byRepo[repo]
		for w, wave := range manifestWaves(list) {
			if w == len(waves) {
				waves = append(waves, nil)
			}
			for _, i := range wave {
				if present[repoDigest{repo, list[i].desc.Digest}] {
					t.present.Add(1)
					continue
				}
				waves[w] = append(waves[w], push{r, &list[i]})
			}
		}
	}
	var side sync.WaitGroup
	var sideErr error
	sideCtx, stopSide := context.WithCancel(ctx)
	defer stopSide()
	startSide := func() {
		if beside != nil {
			run := beside.run
			beside = nil
			side.Go(func() {
				defer errdef.Recover(&sideErr) // a bug: the run's error, not its end
				sideErr = run(sideCtx)
			})
		}
	}
	end := func(err error) error {
		if err != nil {
			stopSide()
		}
		side.Wait()
		return cmp.Or(err, sideErr)
	}
	for w, wave := range waves {
		if beside != nil && w == beside.after {
			startSide()
		}
		g, gctx := errgroup.WithContext(ctx)
		g.SetLimit(concurrency(t.opts.Concurrency))
		for _, p := range wave {
			g.Go(func() error { return t.pushManifest(gctx, p.r, *p.m) })
		}
		if err := g.Wait(); err != nil {
			return end(err)
		}
	}
	startSide()
	return end(t.relistReferrers(ctx, mode, repos, order, byRepo))
}

// pushManifest pushes m into r.
func (t *target) pushManifest(ctx context.Context, r *oremote.Repository, m manifestPlace) error {
	if err := r.Manifests().Push(ctx, m.desc, bytes.NewReader(m.data)); err != nil {
		if l, ok := foreignLayer(m.data); ok {
			return fmt.Errorf("push manifest %s to %s/%s (its layer %s is non-distributable, with urls such as %s, which a registry may refuse: CNCF distribution takes them once validation.manifests.urls.allow admits them): %w",
				m.desc.Digest, t.host, m.repo, l.Digest, l.URLs[0], t.explain(err))
		}
		return fmt.Errorf("push manifest %s to %s/%s: %w", m.desc.Digest, t.host, m.repo, t.explain(err))
	}
	t.pushed.Add(1)
	t.mu.Lock()
	t.pushedHere[repoDigest{m.repo, m.desc.Digest}] = true
	t.mu.Unlock()
	return nil
}

// manifestWaves splits one repository's list into waves of indexes into
// it, pushed one wave after another, a wave's manifests at once. A
// manifest goes in the wave after the last of those before it in list
// that it names (its children, its subject). So every manifest still goes
// after everything it names, as list orders them, and within a wave in
// list's order. One whose children cannot be read follows everything
// before it.
//
// Referrers of one subject go at once, with the referrers API or
// without: a registry without it keeps a subject's referrers in one
// sha256-<hex> index that each push reads and rewrites, and oras-go merges
// the pushes in flight together for one subject into one read and one
// rewrite of its index (its referrers merge pool, per repository client:
// target.repo keeps one a repository). Pushed one after another, each
// referrer cost its own read and rewrite, two round trips more. Another
// writer at the same moment can still drop an entry, which the relisting
// after the phase puts back (relistReferrers).
func manifestWaves(list []manifestPlace) [][]int {
	wave := make([]int, len(list))
	at := map[digest.Digest]int{}
	var waves [][]int
	for i, m := range list {
		w := 0
		after := func(j int) { w = max(w, wave[j]+1) }
		children, err := bundle.Children(m.desc, m.data)
		if err != nil {
			for j := range i {
				after(j)
			}
		}
		for _, c := range children {
			if j, ok := at[c.Digest]; ok {
				after(j)
			}
		}
		if s := bundle.SubjectOf(m.data); s != "" {
			if j, ok := at[s]; ok {
				after(j)
			}
		}
		if _, ok := at[m.desc.Digest]; !ok {
			at[m.desc.Digest] = i
		}
		wave[i] = w
		if w == len(waves) {
			waves = append(waves, nil)
		}
		waves[w] = append(waves[w], i)
	}
	return waves
}

// relistReferrers makes sure that each manifest with a subject is listed
// among its subject's referrers, where readers look for it (the bundle's
// signature among them). Without the referrers API, each referrer pushed
// rewrites the subject's sha256-<hex> index from the one it read: another
// writer doing the same at the same moment (two imports of one bundle) can
// drop an entry, and the manifest, found present, would not be pushed
// again. A missing entry is added by pushing the manifest again. With the
// API, the registry lists what it indexed: a referrer it does not list
// after its push (a registry that serves the API but does not index
// subjects) fails the placement. Each subject's referrers are listed once
// for all of them, and the subjects of every repository of byRepo at once
// (at most Concurrency in flight).
func (t *target) relistReferrers(ctx context.Context, mode ReferrersMode, repos map[string]*oremote.Repository, order []string, byRepo map[string][]manifestPlace) error {
	if mode == "" {
		return nil
	}
	type referred struct {
		repo    string
		subject ocispec.Descriptor
		refs    []manifestPlace
	}
	var subjects []*referred
	for _, repo := range order {
		bySubject := map[digest.Digest]*referred{}
		for _, m := range byRepo[repo] {
			var doc struct {
				Subject *ocispec.Descriptor `json:"subject"`
			}
			if json.Unmarshal(m.data, &doc) != nil || doc.Subject == nil {
				continue
			}
			s := bySubject[doc.Subject.Digest]
			if s == nil {
				s = &referred{repo: repo, subject: *doc.Subject}
				bySubject[doc.Subject.Digest] = s
				subjects = append(subjects, s)
			}
			s.refs = append(s.refs, m)
		}
	}
	g, ctx := errgroup.WithContext(ctx)
	g.SetLimit(concurrency(t.opts.Concurrency))
	for _, s := range subjects {
		g.Go(func() error { return t.relistSubject(ctx, mode, repos[s.repo], s.repo, s.subject, s.refs) })
	}
	return g.Wait()
}

// relistSubject is relistReferrers for the referrers refs of one subject.
// Without the referrers API those missing are pushed again one after
// another: each push rewrites the subject's one index.
func (t *target) relistSubject(ctx context.Context, mode ReferrersMode, r *oremote.Repository, repo string, subject ocispec.Descriptor, refs []manifestPlace) error {
	if mode == ReferrersAPI {
		// A registry may index a subject a moment after the push: it is
		// asked again, with the transfer's backoff, before the placement
		// fails.
		return transfer.Retry(ctx, t.opts.Attempts, t.opts.Backoff, func() (bool, error) {
			missing, err := t.unlisted(ctx, r, repo, subject, refs)
			if err == nil && len(missing) > 0 {
				return true, fmt.Errorf("referrer %s of %s in %s/%s: not listed by the registry's referrers API after it was pushed (the registry does not index subjects; no reader would find it): %w",
					missing[0].desc.Digest, subject.Digest, t.host, repo, errdef.ErrUnavailable)
			}
			return false, err
		})
	}
	for try := 1; ; try++ {
		missing, err := t.unlisted(ctx, r, repo, subject, refs)
		if err != nil {
			return err
		}
		if len(missing) == 0 {
			return nil
		}
		if try > 3 {
			return fmt.Errorf("referrer %s of %s in %s/%s: still not listed under its subject's fallback tag after %d pushes (another writer keeps replacing it): %w",
				missing[0].desc.Digest, subject.Digest, t.host, repo, try-1, errdef.ErrUnavailable)
		}
		for _, m := range missing {
			if err := r.Manifests().Push(ctx, m.desc, bytes.NewReader(m.data)); err != nil {
				return fmt.Errorf("push manifest %s to %s/%s: %w", m.desc.Digest, t.host, repo, t.explain(err))
			}
		}
	}
}

// unlisted returns those of refs that are not among subject's referrers
// in repo, in refs' order.
func (t *target) unlisted(ctx context.Context, r *oremote.Repository, repo string, subject ocispec.Descriptor, refs []manifestPlace) ([]manifestPlace, error) {
	// Only refs are looked for: a registry's listing, however long, holds
	// no more memory than they do.
	listed := make(map[digest.Digest]bool, len(refs))
	for _, m := range refs {
		listed[m.desc.Digest] = false
	}
	err := r.Referrers(ctx, subject, "", func(page []ocispec.Descriptor) error {
		for _, d := range page {
			if _, ok := listed[d.Digest]; ok {
				listed[d.Digest] = true
			}
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("referrers of %s in %s/%s: %w", subject.Digest, t.host, repo, remote.Classify(err))
	}
	var missing []manifestPlace
	for _, m := range refs {
		if !listed[m.desc.Digest] {
			missing = append(missing, m)
		}
	}
	return missing, nil
}

// foreignLayer returns the first non-distributable layer with urls of an
// image manifest: registries check such urls against their own rules, and
// refuse the manifest, with an error of their own, when a rule fails.
func foreignLayer(data []byte) (ocispec.Descriptor, bool) {
	var man struct {
		Layers []ocispec.Descriptor `json:"layers"`
	}
	if json.Unmarshal(data, &man) != nil {
		return ocispec.Descriptor{}, false
	}
	for _, l := range man.Layers {
		if bundle.IsNonDistributable(l.MediaType) && len(l.URLs) > 0 {
			return l, true
		}
	}
	return ocispec.Descriptor{}, false
}
