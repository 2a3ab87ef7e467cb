package mirror

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync/atomic"

	"github.com/opencontainers/go-digest"

	"github.com/stellaops/mirror/internal/errgroup"
	"github.com/stellaops/mirror/pkg/bundle"
	"github.com/stellaops/mirror/pkg/errdef"
	"github.com/stellaops/mirror/pkg/remote"
)

// A bundle repository holds whatever anyone with push rights to it put
// there. Its readers that speak for it (inventory, catalog) or decide by
// it (the rollback check of import, push and sync) count only the roots
// whose signature verifies under the reader's trust, as import verifies a
// bundle; the others are skipped, each named.

// Reasons a root is skipped (SkippedRoot.Reason).
const (
	// SkipNotVerified: its signature does not verify under the trust
	// given, or it is not the bundle its signed manifest.json makes.
	SkipNotVerified = "not verified"
	// SkipNewerFormat: it was made by a newer stella.
	SkipNewerFormat = "newer format"
)

// SkippedRoot is a bundle root of a bundle repository that a reader left
// out.
type SkippedRoot struct {
	Root digest.Digest `json:"root"`
	// Tag is a tag it was found under.
	Tag string `json:"tag"`
	// Reason is SkipNotVerified or SkipNewerFormat; Error says why, on
	// one line.
	Reason string `json:"reason"`
	Error  string `json:"error"`
}

// String is the stderr line: the root, its tag, why.
func (s SkippedRoot) String() string {
	return fmt.Sprintf("skipped bundle root %s (tag %s): %s: %s", s.Root, s.Tag, s.Reason, s.Error)
}

// countSkipped counts skipped by reason.
func countSkipped(skipped []SkippedRoot) (notVerified, newer int) {
	for _, s := range skipped {
		if s.Reason == SkipNewerFormat {
			newer++
		} else {
			notVerified++
		}
	}
	return notVerified, newer
}

// logSkipped names each skipped root on one warning line.
func logSkipped(log *slog.Logger, skipped []SkippedRoot) {
	for _, s := range skipped {
		log.Warn(s.String())
	}
}

// verifiedRoot is a bundle root whose signature verified, with the
// manifest.json it signs.
type verifiedRoot struct {
	bundleRoot
	manifest *bundle.Manifest
}

// verifyHeldRoot verifies a bundle root of repo as import verifies a
// bundle read from a registry: the signing chosen among its referrers as
// openRegistrySource chooses it (among those heldCandidates leaves; with
// keys alone, its files referrers unread: openHeldRoot), its envelope over manifest.json under
// trust, and the root and metadata manifest those manifest.json makes
// (checkMetadataDerived), which binds the root's digest and annotations to
// what was signed. It does not walk the images: the root names each by
// digest, so whoever reads the graph from it reads signed content.
func (t *target) verifyHeldRoot(ctx context.Context, repo string, root bundleRoot, trust TrustOptions, log *slog.Logger) (*bundle.Manifest, error) {
	ref := t.host + "/" + repo + "@" + root.desc.Digest.String()
	// Where signature referrers were left unread (heldCandidates) and
	// none of those read verifies, the root is not passed over: its
	// reader fails, naming it.
	tooMany := func(err error) error {
		if !refusesRoot(err) {
			return err
		}
		return fmt.Errorf("bundle root %s (tag %s) in %s/%s has %w", root.desc.Digest, root.tag, t.host, repo, errTooManySignatures)
	}
	src, dropped, err := openHeldRoot(ctx, t.client, ref, root.desc, trust, log)
	if errors.Is(err, errHeldRootGone) {
		return nil, t.heldRootGone(ctx, repo, root, err)
	}
	if err != nil {
		if dropped != nil && dropped() > 0 {
			return nil, tooMany(err)
		}
		return nil, err
	}
	defer src.close()
	if _, err := verifyBundleSignature(ctx, src.file, trust); err != nil {
		if dropped() > 0 {
			return nil, tooMany(err)
		}
		return nil, err
	}
	md, err := src.metadata(ctx)
	if err != nil {
		return nil, err
	}
	if md.RootDesc.Digest != root.desc.Digest {
		return nil, fmt.Errorf("root %s reads as %s: %w", root.desc.Digest, md.RootDesc.Digest, errdef.ErrMalformed)
	}
	parsed, err := md.root(ctx)
	if err != nil {
		return nil, err
	}
	if err := bundle.CheckRoot(parsed, md.Manifest); err != nil {
		return nil, err
	}
	if err := md.checkMetadataDerived(ctx, parsed); err != nil {
		return nil, err
	}
	return md.Manifest, nil
}

// heldRootGone is the error of a held root not found by its digest
// (err): deleted since its tag was read, a refusal of the root (nothing
// held there), unless its tag still names it; then the registry, or a
// proxy in front of it, answers it by tag and not by digest, and the root
// passed over would let an older bundle in: the registry's fault.
func (t *target) heldRootGone(ctx context.Context, repo string, root bundleRoot, err error) error {
	r, rerr := t.repo(repo)
	if rerr != nil {
		return rerr
	}
	desc, rerr := r.Resolve(ctx, root.tag)
	switch {
	case rerr != nil && isNotFound(rerr):
		return err
	case rerr != nil:
		return fmt.Errorf("read %s/%s:%s: %w", t.host, repo, root.tag, remote.Classify(rerr))
	case desc.Digest != root.desc.Digest:
		return err
	}
	return fmt.Errorf("bundle %s/%s@%s: its tag %s names it, but the registry answers it not found by its digest (a proxy that passes only tags, or a broken registry): %w", t.host, repo, root.desc.Digest, root.tag, errHeldRootAnswered)
}

// refusesRoot reports whether err, from verifyHeldRoot, says the root is
// not a bundle the trust accepts (its signature, its content, a part
// missing), rather than that it could not be read (the registry down, the
// run interrupted, a usage error): the first skips the root, the second
// fails the reader, which decides nothing on a root it could not check.
// A listing of its referrers the registry answered malformed (a page not
// JSON, pages without end) is the registry's, not the root's: every root
// would be passed over so, the newest held among them; one longer than
// a reader reads is anyone's with push rights (errTooManyReferrers). A
// root answered by digest with other bytes than its tag named is the
// registry's too, and one not found by digest that its tag still names
// (errHeldRootAnswered).
func refusesRoot(err error) bool {
	if errors.Is(err, errTooManySignatures) || errors.Is(err, errTooManyReferrers) || errors.Is(err, remote.ErrListing) || errors.Is(err, errHeldRootAnswered) {
		return false
	}
	for _, kind := range []error{errdef.ErrSignature, errdef.ErrMalformed, errdef.ErrDigestMismatch, errdef.ErrNotFound} {
		if errors.Is(err, kind) {
			return true
		}
	}
	return false
}

// skipFor is the SkippedRoot of a root verifyHeldRoot refused.
func skipFor(r bundleRoot, err error) SkippedRoot {
	reason := SkipNotVerified
	if errors.Is(err, errdef.ErrNewerFormat) {
		reason = SkipNewerFormat
	}
	return SkippedRoot{Root: r.desc.Digest, Tag: r.tag, Reason: reason, Error: err.Error()}
}

// MaxUnverifiedRoots bounds the bundle roots of a repository whose
// signature does not verify that a reader verifies before it gives up:
// anyone with push rights there can push roots by the thousand, each of
// which would cost every import's rollback check (those claiming a newer
// generation than the newest that verifies), every inventory and catalog
// a verification. A sound repository holds none: only failures count,
// never the roots that verify, however many. Past the bound the reader
// fails (errdef.ErrSignature), naming the repository: it is to be
// cleaned up, or given every key its bundles are signed with.
const MaxUnverifiedRoots = 100

// errTooManyUnverified stops verifyRoots at the bound.
var errTooManyUnverified = errors.New("too many roots that do not verify")

// tooManyUnverified is the error of a reader that met more than
// MaxUnverifiedRoots roots that do not verify in host/repo.
func tooManyUnverified(host, repo string) error {
	return fmt.Errorf("bundle repository %s/%s holds more than %d bundle roots whose signature does not verify under the trust given (pushed by anyone with push rights there, or signed with a key not given): delete them from the repository (each is named above), or give every key its bundles are signed with: %w",
		host, repo, MaxUnverifiedRoots, errdef.ErrSignature)
}

// verifyRoots verifies roots under trust, at most limit at once, and
// returns those that verify, in the order given, and those that do not.
// Any other failure (the registry, the context), or more than
// MaxUnverifiedRoots that do not verify, fails it.
func (t *target) verifyRoots(ctx context.Context, repo string, roots []bundleRoot, trust TrustOptions, limit int, log *slog.Logger) ([]verifiedRoot, []SkippedRoot, error) {
	manifests := make([]*bundle.Manifest, len(roots))
	errs := make([]error, len(roots))
	var refused atomic.Int64
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(limit)
	for i, r := range roots {
		if gctx.Err() != nil {
			break // the bound passed, or the run failed: start no more
		}
		g.Go(func() error {
			m, err := t.verifyHeldRoot(gctx, repo, r, trust, log)
			switch {
			case errors.Is(err, errTooManySignatures):
				return err // names the root
			case err != nil && !refusesRoot(err):
				return fmt.Errorf("bundle root %s (tag %s) in %s/%s: %w", r.desc.Digest, r.tag, t.host, repo, err)
			}
			manifests[i], errs[i] = m, err
			if err != nil && refused.Add(1) > MaxUnverifiedRoots {
				return errTooManyUnverified
			}
			return nil
		})
	}
	if err := g.Wait(); errors.Is(err, errTooManyUnverified) {
		// Each root refused so far is named, for the clean-up.
		for i, r := range roots {
			if errs[i] != nil {
				logger(log).Warn(skipFor(r, errs[i]).String())
			}
		}
		return nil, nil, tooManyUnverified(t.host, repo)
	} else if err != nil {
		return nil, nil, err
	}
	var ok []verifiedRoot
	var skipped []SkippedRoot
	for i, r := range roots {
		if errs[i] != nil {
			skipped = append(skipped, skipFor(r, errs[i]))
			continue
		}
		ok = append(ok, verifiedRoot{bundleRoot: r, manifest: manifests[i]})
	}
	return ok, skipped, nil
}
