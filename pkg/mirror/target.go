package mirror

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	"golang.org/x/sync/errgroup"
	oremote "oras.land/oras-go/v2/registry/remote"
	"oras.land/oras-go/v2/registry/remote/auth"
	"oras.land/oras-go/v2/registry/remote/errcode"

	"github.com/stellaops/mirror/pkg/bundle"
	"github.com/stellaops/mirror/pkg/errdef"
	"github.com/stellaops/mirror/pkg/remote"
	"github.com/stellaops/mirror/pkg/transfer"
)

// ReferrersMode says how a registry stores referrers.
type ReferrersMode string

// Referrers modes.
const (
	ReferrersAPI      ReferrersMode = "referrers API"
	ReferrersTagIndex ReferrersMode = "fallback tag (sha256-<hex>)"
)

// target is a registry that a placement is written into. It counts what
// it does.
type target struct {
	host   string
	client *remote.Client
	opts   transfer.Options

	mu      sync.Mutex
	repos   map[string]*oremote.Repository
	uploads map[string]*transfer.Uploader
	mode    ReferrersMode

	// streamed is set when uploads come from one stream, a few blobs in
	// flight at a time (streamPipeline).
	streamed bool
	// pool holds the chunks of every streamed upload: streamBudget in all.
	pool *transfer.ChunkPool
	// dialect is what the uploads of every repository learnt of how the
	// registry takes blobs (a refused PATCH, its smallest chunk): learnt
	// once, not once per repository.
	dialect transfer.Dialect

	sent, mounted, skipped atomic.Int64
	bytesSent              atomic.Int64
	pushed, present        atomic.Int64
	tagged                 atomic.Int64
	// kept are the cosign tags left naming the far side's own manifest,
	// which the caller reports.
	kept []keptTag
}

func newTarget(host string, client *remote.Client, opts transfer.Options) *target {
	return &target{host: host, client: client, opts: opts, repos: map[string]*oremote.Repository{}, uploads: map[string]*transfer.Uploader{}}
}

func (t *target) repo(name string) (*oremote.Repository, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if r, ok := t.repos[name]; ok {
		return r, nil
	}
	r, err := t.client.Repository(t.host + "/" + name)
	if err != nil {
		return nil, err
	}
	// Without the referrers API, each referrer added replaces the
	// sha256-<hex> index; the one it supersedes is left untagged for the
	// registry's garbage collection, since many registries refuse deletes
	// (distribution's default configuration among them) and a refusal
	// must not fail a placement whose content is all in.
	r.SkipReferrersGC = true
	if t.mode != "" {
		_ = r.SetReferrersCapability(t.mode == ReferrersAPI)
	}
	t.repos[name] = r
	return r, nil
}

func (t *target) uploader(name string) (*transfer.Uploader, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if u, ok := t.uploads[name]; ok {
		return u, nil
	}
	r, err := t.client.UploadRepository(t.host + "/" + name)
	if err != nil {
		return nil, err
	}
	if t.pool == nil {
		size := t.chunkSize()
		t.pool = transfer.NewChunkPool(int(streamBudget/size), size)
	}
	u := &transfer.Uploader{Repo: r, Pool: t.pool, Attempts: t.opts.Attempts, Backoff: t.opts.Backoff, Progress: t.opts.Progress, Dialect: &t.dialect}
	t.uploads[name] = u
	return u, nil
}

// hasBlob reports whether repo holds the blob.
func (t *target) hasBlob(ctx context.Context, repo string, desc ocispec.Descriptor) (bool, error) {
	r, err := t.repo(repo)
	if err != nil {
		return false, err
	}
	ok, err := r.Blobs().Exists(ctx, desc)
	return ok, remote.Classify(err)
}

// hasManifest reports whether repo holds the manifest or index dg.
func (t *target) hasManifest(ctx context.Context, repo string, dg digest.Digest) (bool, error) {
	r, err := t.repo(repo)
	if err != nil {
		return false, err
	}
	if _, err := r.Manifests().Resolve(ctx, dg.String()); err != nil {
		if isNotFound(err) {
			return false, nil
		}
		return false, fmt.Errorf("read %s/%s@%s: %w", t.host, repo, dg, remote.Classify(err))
	}
	return true, nil
}

// upload streams a blob into repo, verifying it on the way.
func (t *target) upload(ctx context.Context, repo string, desc ocispec.Descriptor, r io.Reader) error {
	u, err := t.uploader(repo)
	if err != nil {
		return err
	}
	if err := u.Push(ctx, desc, r); err != nil {
		return fmt.Errorf("push blob %s to %s/%s: %w", desc.Digest, t.host, repo, err)
	}
	t.sent.Add(1)
	t.bytesSent.Add(desc.Size)
	return nil
}

// uploadAt sends a blob from a random-access source into repo, holding
// nothing in memory, verifying it on the way.
func (t *target) uploadAt(ctx context.Context, repo string, desc ocispec.Descriptor, ra io.ReaderAt) error {
	u, err := t.uploader(repo)
	if err != nil {
		return err
	}
	if err := u.PushAt(ctx, desc, ra); err != nil {
		return fmt.Errorf("push blob %s to %s/%s: %w", desc.Digest, t.host, repo, err)
	}
	t.sent.Add(1)
	t.bytesSent.Add(desc.Size)
	return nil
}

// spread makes a blob that is in b.repos[0] present in every other
// repository of b: skipped where it already is, mounted where the
// registry links it, copied through this process otherwise.
func (t *target) spread(ctx context.Context, b *blobPlace) error {
	for _, repo := range b.repos[1:] {
		ok, err := t.hasBlob(ctx, repo, b.desc)
		if err != nil {
			return err
		}
		if ok {
			t.skipped.Add(1)
			continue
		}
		u, err := t.uploader(repo)
		if err != nil {
			return err
		}
		mounted, err := u.Mount(ctx, b.desc, b.repos[0])
		if err != nil {
			return fmt.Errorf("mount blob %s into %s/%s: %w", b.desc.Digest, t.host, repo, err)
		}
		if mounted {
			t.mounted.Add(1)
			continue
		}
		from, err := t.repo(b.repos[0])
		if err != nil {
			return err
		}
		rc, err := from.Fetch(ctx, b.desc)
		if err != nil {
			return remote.Classify(err)
		}
		err = t.upload(ctx, repo, b.desc, rc)
		rc.Close()
		if err != nil {
			return err
		}
	}
	return nil
}

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
		if err := t.pushPhase(ctx, list, present); err != nil {
			return err
		}
	}
	return nil
}

// presentManifests asks, all at once (at most Concurrency in flight),
// which of the phases' manifests the target holds: the set of those it
// does, by repository@digest.
func (t *target) presentManifests(ctx context.Context, phases [][]manifestPlace) (map[string]bool, error) {
	var all []manifestPlace
	for _, list := range phases {
		all = append(all, list...)
	}
	held := make([]bool, len(all))
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(concurrency(t.opts.Concurrency))
	for i, m := range all {
		g.Go(func() error {
			r, err := t.repo(m.repo)
			if err != nil {
				return err
			}
			ok, err := r.Manifests().Exists(gctx, m.desc)
			if err != nil {
				return fmt.Errorf("manifest %s in %s/%s: %w", m.desc.Digest, t.host, m.repo, remote.Classify(err))
			}
			held[i] = ok
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		return nil, err
	}
	out := map[string]bool{}
	for i, m := range all {
		if held[i] {
			out[m.repo+"@"+m.desc.Digest.String()] = true
		}
	}
	return out, nil
}

// pushPhase pushes the manifests of list that are not present, one
// repository's in waves and repositories side by side, then makes sure each
// referrer is listed (relistReferrers). The repositories' waves go
// together, wave after wave, so that Concurrency bounds the manifests in
// flight for them all, as it bounds the blobs.
func (t *target) pushPhase(ctx context.Context, list []manifestPlace, present map[string]bool) error {
	byRepo := map[string][]manifestPlace{}
	var order []string
	for _, m := range list {
		if _, ok := byRepo[m.repo]; !ok {
			order = append(order, m.repo)
		}
		byRepo[m.repo] = append(byRepo[m.repo], m)
	}
	type push struct {
		r *oremote.Repository
		m manifestPlace
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
				if present[repo+"@"+list[i].desc.Digest.String()] {
					t.present.Add(1)
					continue
				}
				waves[w] = append(waves[w], push{r, list[i]})
			}
		}
	}
	for _, wave := range waves {
		g, gctx := errgroup.WithContext(ctx)
		g.SetLimit(concurrency(t.opts.Concurrency))
		for _, p := range wave {
			g.Go(func() error { return t.pushManifest(gctx, p.r, p.m) })
		}
		if err := g.Wait(); err != nil {
			return err
		}
	}
	return t.relistReferrers(ctx, repos, order, byRepo)
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
	return nil
}

// manifestWaves splits one repository's list into waves of indexes into
// it, pushed one wave after another, a wave's manifests at once. A
// manifest goes in the wave after the last of those it must follow: the
// manifests before it in list that it names (its children, its subject),
// and the one before it with the same subject (a registry without the
// referrers API keeps a subject's referrers in one index that each push
// reads and rewrites: two at once would lose one). So every manifest still
// goes after everything it names, as list orders them, and within a wave
// in list's order. One whose children cannot be read follows everything
// before it.
func manifestWaves(list []manifestPlace) [][]int {
	wave := make([]int, len(list))
	at := map[digest.Digest]int{}
	lastOf := map[digest.Digest]int{} // the latest referrer of each subject
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
			if j, ok := lastOf[s]; ok {
				after(j)
			}
			lastOf[s] = i
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
func (t *target) relistReferrers(ctx context.Context, repos map[string]*oremote.Repository, order []string, byRepo map[string][]manifestPlace) error {
	if t.mode == "" {
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
		g.Go(func() error { return t.relistSubject(ctx, repos[s.repo], s.repo, s.subject, s.refs) })
	}
	return g.Wait()
}

// relistSubject is relistReferrers for the referrers refs of one subject.
// Without the referrers API those missing are pushed again one after
// another: each push rewrites the subject's one index.
func (t *target) relistSubject(ctx context.Context, r *oremote.Repository, repo string, subject ocispec.Descriptor, refs []manifestPlace) error {
	if t.mode == ReferrersAPI {
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

// explain turns a registry's refusal of an unknown artifact type into an
// error that names the registry.
func (t *target) explain(err error) error {
	var resp *errcode.ErrorResponse
	if errors.As(err, &resp) && (resp.StatusCode == http.StatusBadRequest || resp.StatusCode == http.StatusUnsupportedMediaType) {
		for _, e := range resp.Errors {
			if e.Code == errcode.ErrorCodeManifestInvalid || e.Code == errcode.ErrorCodeUnsupported || e.Code == "MANIFEST_UNSUPPORTED" {
				return fmt.Errorf("registry %s refused the manifest (it may not accept OCI artifact types): %w", t.host, err)
			}
		}
	}
	return remote.Classify(err)
}

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
// already names the bundle's manifest (counted as written), or another
// manifest that no bundle imported into tg.ours carried (returned, for
// t.kept). A tag naming a manifest of ours, which an earlier import wrote
// before the upstream signed again, is not kept: the bundle's manifest
// (the newer signatures) replaces it. One HEAD, two where the tag names
// another manifest.
func (t *target) keepTag(ctx context.Context, r *oremote.Repository, tg tagPlace) (bool, *keptTag, error) {
	got, err := r.Manifests().Resolve(ctx, tg.tag)
	switch {
	case isNotFound(err):
		return false, nil, nil
	case err != nil:
		return false, nil, fmt.Errorf("tag %s/%s:%s: %w", t.host, tg.repo, tg.tag, remote.Classify(err))
	case got.Digest == tg.desc.Digest:
		t.tagged.Add(1)
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

// tag writes the tags and reads each back: a registry that rewrote the
// manifest without saying so, or took the write and did not apply it,
// names other content by the tag, which a generation check (which reads
// the tags) would then trust. One HEAD a tag. Every tag but the last is
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
	for i, tg := range tags[:len(tags)-1] {
		g.Go(func() (err error) {
			kept[i], err = t.tagOne(gctx, tg)
			return err
		})
	}
	err := g.Wait()
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

// tagOne writes one tag and reads it back (see tag); a cosign tag left as
// it is, naming another manifest, is returned.
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
		got, rerr := r.Manifests().Resolve(ctx, tg.tag)
		switch {
		case rerr == nil && got.Digest != tg.desc.Digest:
			return perr == nil, fmt.Errorf("tag %s/%s:%s names %s after %s was written to it (the registry rewrote the manifest, or serves a stale tag): %w",
				t.host, tg.repo, tg.tag, got.Digest, tg.desc.Digest, errdef.ErrDigestMismatch)
		case perr != nil:
			return false, fmt.Errorf("tag %s/%s:%s: %w", t.host, tg.repo, tg.tag, remote.Classify(perr))
		case isNotFound(rerr):
			return true, fmt.Errorf("tag %s/%s:%s is not found after %s was written to it (the registry lost the write): %w",
				t.host, tg.repo, tg.tag, tg.desc.Digest, errdef.ErrUnavailable)
		case rerr != nil:
			return false, fmt.Errorf("tag %s/%s:%s: read back: %w", t.host, tg.repo, tg.tag, remote.Classify(rerr))
		}
		return false, nil
	})
	if err != nil {
		return nil, err
	}
	t.tagged.Add(1)
	return nil, nil
}

// detectReferrers asks the registry, through a repository that holds
// manifests, whether it serves the referrers API, and makes every
// repository client use that mode.
func (t *target) detectReferrers(ctx context.Context, repo string, subject digest.Digest) (ReferrersMode, error) {
	r, err := t.repo(repo)
	if err != nil {
		return "", err
	}
	ctx = auth.AppendRepositoryScope(ctx, r.Reference, auth.ActionPull)
	scheme := "https"
	if r.PlainHTTP {
		scheme = "http"
	}
	url := fmt.Sprintf("%s://%s/v2/%s/referrers/%s", scheme, t.host, repo, subject)
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return "", err
	}
	resp, err := r.Client.Do(req)
	if err != nil {
		return "", remote.Classify(err)
	}
	defer resp.Body.Close()
	mode := ReferrersTagIndex
	if resp.StatusCode == http.StatusOK {
		var idx ocispec.Index
		if json.NewDecoder(io.LimitReader(resp.Body, bundle.MaxManifestSize)).Decode(&idx) == nil && idx.MediaType == ocispec.MediaTypeImageIndex {
			mode = ReferrersAPI
		}
	}
	t.mu.Lock()
	t.mode = mode
	t.mu.Unlock()
	return mode, t.setReferrersMode(mode)
}

// setReferrersMode tells every repository client how to push referrers.
func (t *target) setReferrersMode(mode ReferrersMode) error {
	t.mu.Lock()
	defer t.mu.Unlock()
	for _, r := range t.repos {
		if err := r.SetReferrersCapability(mode == ReferrersAPI); err != nil && !errors.Is(err, oremote.ErrReferrersCapabilityAlreadySet) {
			return err
		}
	}
	return nil
}

// generation returns the highest mirrorGeneration among the bundles tagged
// in repo (listed, or among also), with the root digest of that bundle; 0
// when there is none.
func (t *target) generation(ctx context.Context, repo string, also ...string) (int64, digest.Digest, error) {
	roots, err := t.bundleRoots(ctx, repo, also...)
	if err != nil {
		return 0, "", err
	}
	var best int64
	var bestRoot digest.Digest
	for _, r := range roots {
		if r.entry.Generation > best {
			best, bestRoot = r.entry.Generation, r.desc.Digest
		}
	}
	return best, bestRoot, nil
}

func isNotFound(err error) bool { return errors.Is(remote.Classify(err), errdef.ErrNotFound) }

// fetchManifest fetches and verifies a manifest from a repository.
func fetchManifest(ctx context.Context, r *oremote.Repository, d ocispec.Descriptor) ([]byte, error) {
	data, err := transfer.FetchBytes(ctx, r.Manifests(), d)
	if err != nil {
		return nil, remote.Classify(err)
	}
	return data, nil
}

// putBytes uploads a small blob held in memory, unless repo has it.
func (t *target) putBytes(ctx context.Context, repo string, desc ocispec.Descriptor, data []byte) error {
	ok, err := t.hasBlob(ctx, repo, desc)
	if err != nil || ok {
		if ok {
			t.skipped.Add(1)
		}
		return err
	}
	return t.upload(ctx, repo, desc, bytes.NewReader(data))
}

// streamBudget bounds the memory that streamed uploads hold together: the
// chunks read ahead and those waiting for the registry to take them.
const streamBudget = 48 << 20

// streamChunkSize is the chunk of an archive read as one stream. Its blobs
// come one after another, so a blob larger than the pool is sent by one
// upload at a time, and each request costs the registry a round trip and
// its hash state: one upload of 256 MiB to distribution runs at 372–378
// MB/s in 4 MiB requests, 398–410 in 8 MiB, 427–453 in 16 MiB
// (STELLA_BENCH_CHUNK_MIB=N go test -bench BenchmarkUploader/stream
// ./pkg/transfer). 8 MiB leaves six chunks in the pool, one for each of the
// streamPipeline blobs in flight and two to read ahead (with 16 MiB, three
// blobs of a few MiB would fill it).
const streamChunkSize = 8 << 20

// chunkSize is the chunk of a streamed upload: for an archive read as one
// stream, streamChunkSize; otherwise the budget shared among the uploads
// in flight, two chunks each, between 4 and 16 MiB.
func (t *target) chunkSize() int64 {
	if t.streamed {
		return streamChunkSize
	}
	inFlight := int64(concurrency(t.opts.Concurrency))
	return min(max(streamBudget/(2*inFlight), 4<<20), transfer.DefaultChunkSize)
}
