package mirror

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	orasdef "oras.land/oras-go/v2/errdef"
	oremote "oras.land/oras-go/v2/registry/remote"

	"github.com/stellaops/mirror/internal/errgroup"
	"github.com/stellaops/mirror/pkg/bundle"
	"github.com/stellaops/mirror/pkg/dsse"
	"github.com/stellaops/mirror/pkg/errdef"
	"github.com/stellaops/mirror/pkg/keys"
	"github.com/stellaops/mirror/pkg/layout"
	"github.com/stellaops/mirror/pkg/remote"
)

// PayloadTypeInventory is the DSSE payloadType of a signed inventory.
const PayloadTypeInventory = "application/vnd.stellaops.mirror-inventory+json"

// InventoryFile is inventory.json: what an air-gapped registry holds, written on the far side
// and carried back so that the next delta bundle carries exactly what is
// missing there.
type InventoryFile struct {
	SchemaVersion    int                        `json:"schemaVersion"`
	Registry         string                     `json:"registry"`
	BundleRepository string                     `json:"bundleRepository"`
	GeneratedAt      time.Time                  `json:"generatedAt"`
	Bundles          []InventoryBundle          `json:"bundles"`
	Repositories     map[string][]digest.Digest `json:"repositories"`
}

// InventoryBundle is one imported bundle.
type InventoryBundle struct {
	BundleID   string        `json:"bundleId"`
	Version    string        `json:"version"`
	Channel    string        `json:"channel,omitempty"`
	Generation int64         `json:"mirrorGeneration"`
	Root       digest.Digest `json:"root"`
	CreatedAt  string        `json:"createdAt"`
}

// InventoryOptions say which registry to take stock of.
type InventoryOptions struct {
	// Registry is host[:port]. Required.
	Registry string
	// BundleRepo is the bundle repository import wrote to; empty means
	// bundle.DefaultBundleRepository.
	BundleRepo string
	// Output is the inventory file to write (JSON). Required.
	Output string
	// Key, if set, signs the inventory: Output with .json replaced by .dsse.
	// It needs Trust: a signed inventory speaks for what it lists.
	Key      string
	Password keys.PassFunc
	// Trust says whose bundles count (the near side's key, as import's
	// --key): only the roots whose signature verifies under it are listed,
	// with their blobs; the others are skipped, each named in a warning.
	// Empty (only without Key) lists every root unverified, and says so.
	Trust TrustOptions
	// Now is generatedAt; zero means the clock.
	Now    time.Time
	Client *remote.Client
	Logger *slog.Logger
	// Concurrency bounds the parallel existence checks; zero means the
	// default.
	Concurrency int
}

// InventoryResult is what Inventory wrote.
type InventoryResult struct {
	Path      string `json:"path"`
	Signature string `json:"signature,omitempty"`
	Bundles   int    `json:"bundles"`
	Blobs     int    `json:"blobs"`
	// RootsVerified says the bundles listed are those whose signature
	// verified under the trust given; false when none was given.
	RootsVerified bool `json:"rootsVerified"`
	// NotVerified and NewerFormat count the roots left out: their
	// signature did not verify, or a newer stella made them. Skipped
	// names each.
	NotVerified int           `json:"notVerified"`
	NewerFormat int           `json:"newerFormat"`
	Skipped     []SkippedRoot `json:"skipped,omitempty"`
}

// Inventory lists the bundles imported into a registry's bundle repository
// (from their roots) and the blobs the repository holds (every blob of
// their graphs, each checked to be there), and writes it, signed when a key
// is given.
func Inventory(ctx context.Context, opts InventoryOptions) (*InventoryResult, error) {
	bundleRepo := firstNonEmpty(opts.BundleRepo, bundle.DefaultBundleRepository)
	if err := checkRegistryHost("--registry", opts.Registry); err != nil {
		return nil, err
	}
	// As import and serve: a reference with a tag or digest listed that
	// tag's bundle alone, under a repository named with it.
	if !bundle.ValidRepository(bundleRepo) {
		return nil, fmt.Errorf("--bundle-repo %q is not a valid repository name: %w", withoutAt(bundleRepo), errdef.ErrUsage)
	}
	if opts.Output == "" || !strings.HasSuffix(opts.Output, ".json") {
		return nil, fmt.Errorf("--output %q must name a .json file: %w", opts.Output, errdef.ErrUsage)
	}
	// A signed inventory is the far side's statement of what it holds: the
	// near side's next delta leaves out what it lists. Signing roots
	// nobody verified would put anyone's pushed root under that statement.
	if opts.Key != "" && opts.Trust.Empty() {
		return nil, fmt.Errorf("inventory --key signs what it lists: give the key the bundles are signed with (--bundle-key PUB, or --bundle-trust-root), so that it lists only bundles that verify: %w", errdef.ErrUsage)
	}
	trust, err := opts.Trust.load(ctx)
	if err != nil {
		return nil, err
	}
	// The key is opened first: one that does not open fails before any
	// request, and its KDF's working memory (64 MiB for cosign's scrypt)
	// is spent and gone before the walk over every bundle's graph, rather
	// than on top of it.
	var sign func([]byte) ([]byte, error)
	if opts.Key != "" {
		if sign, err = documentSigner(ctx, opts.Key, opts.Password, PayloadTypeInventory); err != nil {
			return nil, err
		}
	}
	log := logger(opts.Logger)
	tgt := newTarget(opts.Registry, opts.Client, transferOptionsFor(opts.Concurrency))
	roots, skipped, err := tgt.bundleRoots(ctx, bundleRepo)
	if err != nil {
		return nil, err
	}
	if trust.Empty() {
		if len(roots) > 0 {
			log.Warn(fmt.Sprintf("bundle roots of %s/%s listed without verifying their signatures (no --bundle-key): an unsigned inventory for reading, not for create --base", opts.Registry, bundleRepo))
		}
	} else {
		verified, refused, err := tgt.verifyRoots(ctx, bundleRepo, roots, trust, concurrency(opts.Concurrency), log)
		if err != nil {
			return nil, err
		}
		roots = roots[:0]
		for _, v := range verified {
			roots = append(roots, v.bundleRoot)
		}
		skipped = append(skipped, refused...)
	}
	logSkipped(log, skipped)
	now := opts.Now
	if now.IsZero() {
		now = time.Now()
	}
	inv := &InventoryFile{SchemaVersion: bundle.InventoryVersion, Registry: opts.Registry, BundleRepository: bundleRepo, GeneratedAt: now.UTC().Truncate(time.Second),
		Bundles: []InventoryBundle{}, Repositories: map[string][]digest.Digest{}}
	blobs := map[digest.Digest]ocispec.Descriptor{}
	// One reader for every bundle: the releases of a repository share most
	// of their images, and each manifest is fetched once, not once a bundle.
	g, err := tgt.graphReader(bundleRepo)
	if err != nil {
		return nil, err
	}
	for _, r := range roots {
		inv.Bundles = append(inv.Bundles, r.entry)
		if err := visitGraph(ctx, r.desc, g, func(d ocispec.Descriptor) { blobs[d.Digest] = plainDesc(d) }, nil); err != nil {
			return nil, err
		}
	}
	sort.Slice(inv.Bundles, func(i, j int) bool { return inv.Bundles[i].Generation < inv.Bundles[j].Generation })
	held, err := tgt.holding(ctx, bundleRepo, blobs, concurrency(opts.Concurrency))
	if err != nil {
		return nil, err
	}
	inv.Repositories[bundleRepo] = held
	data, err := bundle.Canonical(inv)
	if err != nil {
		return nil, err
	}
	// Signed before anything is written: a key that does not open leaves
	// the previous inventory and its signature as they were.
	var env []byte
	if sign != nil {
		if env, err = sign(data); err != nil {
			return nil, err
		}
	}
	sigPath := strings.TrimSuffix(opts.Output, ".json") + ".dsse"
	// The inventory and its signature are written under the directory's
	// writers' lock: two runs at once would otherwise leave one run's
	// inventory beside the other's signature, which verifies with neither.
	outDir := filepath.Dir(opts.Output)
	unlock, err := writeLock(ctx, outDir, logger(opts.Logger))
	if err != nil {
		return nil, err
	}
	defer unlock()
	// A previous run's signature is over other bytes: left beside an
	// unsigned inventory, it would read as a mismatch, not as unsigned;
	// beside a signed one stopped before its signature took its name
	// (killed, the disk full), as a whole signed pair. Removed before the
	// inventory is replaced.
	if err := os.Remove(sigPath); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return nil, err
	}
	if err := removeStaleOutputs(opts.Output, sigPath); err != nil {
		return nil, err
	}
	if err := layout.WriteFileAtomic(opts.Output, data, 0o644); err != nil {
		return nil, err
	}
	res := &InventoryResult{Path: opts.Output, Bundles: len(inv.Bundles), Blobs: len(held), RootsVerified: !trust.Empty(), Skipped: skipped}
	res.NotVerified, res.NewerFormat = countSkipped(skipped)
	if env != nil {
		res.Signature = sigPath
		if err := layout.WriteFileAtomic(res.Signature, env, 0o644); err != nil {
			return nil, err
		}
	}
	log.Info("inventory written", "path", opts.Output, "bundles", res.Bundles, "blobs", res.Blobs)
	return res, nil
}

// maxInventoryFile bounds an inventory read as a base. It must verify
// under the envelope beside it, which carries it in base64 (a third
// larger) and is at most dsse.MaxEnvelopeSize bytes: no inventory over
// some 3 MiB can be signed, so none over this bound can verify. (At some
// 75 bytes a digest that is some 40000 blobs; the manifest.json of the
// base a delta names is bounded alike, at 4 MiB.)
const maxInventoryFile = dsse.MaxEnvelopeSize

// loadInventoryBase reads an inventory as the base of a delta: the newest
// bundle it lists, and the blobs of its bundle repository. Its signature
// (the .dsse beside it) must verify with trust, which may not be empty: an
// inventory crosses from the far side like any media, and the delta the
// release signer signs takes its generation from it.
func loadInventoryBase(ctx context.Context, path string, trust TrustOptions) (*baseInfo, error) {
	data, err := readFileBounded(path, "--base "+path, maxInventoryFile)
	if err != nil {
		return nil, err
	}
	if err := checkBaseTrust(path, trust); err != nil {
		return nil, err
	}
	sigFile := strings.TrimSuffix(path, ".json") + ".dsse"
	env, err := readFileBounded(sigFile, "--base "+sigFile, dsse.MaxEnvelopeSize)
	if errors.Is(err, errdef.ErrNotFound) {
		return nil, fmt.Errorf("--base %s: no signature beside it: %w", path, errdef.ErrSignature)
	}
	if err != nil {
		return nil, err
	}
	if _, err := verifyDocument(ctx, env, PayloadTypeInventory, data, trust); err != nil {
		return nil, fmt.Errorf("--base %s: %w", path, err)
	}
	if err := bundle.CheckSchemaVersion("--base "+path, data, bundle.InventoryVersion); err != nil {
		return nil, err
	}
	var inv InventoryFile
	if err := bundle.DecodeCanonical(data, &inv); err != nil {
		// err names what is wrong (an unknown field, the byte where the
		// form departs from inventory's) and wraps errdef.ErrMalformed.
		return nil, fmt.Errorf("--base %s: not an inventory as inventory writes it: %w", path, err)
	}
	if inv.SchemaVersion != bundle.InventoryVersion {
		return nil, fmt.Errorf("--base %s: inventory schemaVersion %d, not %d: %w", path, inv.SchemaVersion, bundle.InventoryVersion, errdef.ErrMalformed)
	}
	if len(inv.Bundles) == 0 {
		return nil, fmt.Errorf("--base %s: the registry holds no bundle yet; make a full bundle: %w", path, errdef.ErrUsage)
	}
	newest := inv.Bundles[len(inv.Bundles)-1]
	if newest.Generation < 1 {
		return nil, fmt.Errorf("--base %s: its newest bundle %s has generation %d, which no bundle has (they start at 1): %w", path, newest.BundleID, newest.Generation, errdef.ErrMalformed)
	}
	bi := &baseInfo{base: bundle.Base{BundleID: newest.BundleID, Root: newest.Root, Generation: newest.Generation}, held: map[digest.Digest]bool{}}
	for _, d := range inv.Repositories[inv.BundleRepository] {
		bi.held[d] = true
	}
	return bi, nil
}

// bundleRoot is a bundle tagged in a bundle repository. Nothing of it is
// verified: verifyHeldRoot verifies it.
type bundleRoot struct {
	desc  ocispec.Descriptor
	entry InventoryBundle
	// tag is the first tag it was found under.
	tag string
}

// maxRepositoryTags bounds the tags of a bundle repository a reader
// lists (and then reads, each): a registry's tag list is paged, and a
// hostile or broken one can page without end. A bundle repository holds a
// tag or two a bundle (its version, a referrers fallback tag) and its
// catalog: tens of thousands of bundles fit.
const maxRepositoryTags = 100000

// bundleRoots lists the bundle roots tagged in repo, and the roots of a
// newer format than this stella reads (skipped: it cannot tell what they
// hold). The tags in also are read too, listed or not: a tag list may lag
// behind the registry's writes, and the tag a placement is about to
// replace must be seen. The tags are read Concurrency at a time (a
// repository of a few hundred releases is as many round trips, which
// every import's generation check makes), each reduced to what is kept
// of it as it arrives; the roots are in the order of the tags. The tags
// in also are read while the list is asked for, not after it: a round
// trip less for every generation check (one before the bundle's tag is
// written).
func (t *target) bundleRoots(ctx context.Context, repo string, also ...string) ([]bundleRoot, []SkippedRoot, error) {
	r, err := t.repo(repo)
	if err != nil {
		return nil, nil, err
	}
	// A tag read ahead that fails for good (the registry gone down, a
	// refusal) fails the check: the list is stopped then, not run through
	// its every try while a placement beside it asks the registry on.
	lctx, stopList := context.WithCancelCause(ctx)
	defer stopList(nil)
	ahead, cancelAhead := t.readTaggedRootsAhead(ctx, r, repo, also, stopList)
	defer cancelAhead()
	tags, err := t.listTags(lctx, r, repo)
	if cause := context.Cause(lctx); err != nil && cause != nil && !errors.Is(cause, context.Canceled) && !errors.Is(cause, context.DeadlineExceeded) {
		err = cause
	}
	if err != nil {
		return nil, nil, err
	}
	listed := len(tags)
	for _, tag := range also {
		if !slices.Contains(tags, tag) {
			tags = append(tags, tag)
		}
	}
	read := make([]taggedRoot, len(tags))
	// gone holds the first "not there" of each listed tag that read so:
	// being written, or deleted since the list (listedTagsGone).
	gone := make([]error, len(tags))
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(concurrency(t.opts.Concurrency))
	for i, tag := range tags {
		if bundle.ReservedTag(tag) || !bundle.ValidTag(tag) {
			// A referrers fallback tag or a cosign tag (sha256-<hex>,
			// .sig, .att, .sbom: no release version takes that form,
			// though one may begin "sha256-"); or a name the tag grammar
			// forbids (../../x, a b), which a hostile or broken
			// registry may list: no client can ask for it, so it can
			// name no bundle. Every tag that can be read is read.
			continue
		}
		unlisted := i >= listed
		g.Go(func() (err error) {
			if got, ok := ahead[tag]; ok {
				read[i], err = got.wait(gctx)
			} else {
				read[i], err = t.readTaggedRoot(gctx, r, repo, tag, unlisted)
			}
			if err != nil && isNotFound(err) {
				// Not listed and not there: nothing. Listed and not
				// there: asked about once every tag is read.
				read[i] = taggedRoot{}
				if !unlisted {
					gone[i] = err
				}
				return nil
			}
			return err
		})
	}
	if err := g.Wait(); err != nil {
		return nil, nil, err
	}
	if err := t.listedTagsGone(ctx, r, repo, tags, read, gone); err != nil {
		return nil, nil, err
	}
	seen := map[digest.Digest]bool{}
	var out []bundleRoot
	var newer []SkippedRoot
	for _, tr := range read {
		switch {
		case tr.root == nil && tr.newer == nil, seen[tr.digest]:
			continue // no bundle root, or another tag of one seen
		case tr.newer != nil:
			newer = append(newer, *tr.newer)
		default:
			out = append(out, *tr.root)
		}
		seen[tr.digest] = true
	}
	return out, newer, nil
}

// listTags lists the tags of a bundle repository, at most
// maxRepositoryTags of them, leaving out those the tag grammar forbids
// and those listed again; a repository not there has none.
func (t *target) listTags(ctx context.Context, r *oremote.Repository, repo string) ([]string, error) {
	var tags []string
	seen := map[string]struct{}{}
	listed := 0
	tooMany := func(what string) error {
		return fmt.Errorf("list tags of %s/%s: more than %s (a registry that pages without end, or a repository filled with tags by anyone with push rights there: clean it up): %w",
			t.host, repo, what, errdef.ErrMalformed)
	}
	if err := r.Tags(ctx, "", func(page []string) error {
		// Only a tag that can name a bundle is kept: one the grammar
		// forbids is up to a page long (4 MiB), 1000 pages of them 4 GiB.
		// A tag listed again is kept once: each kept is read, a round
		// trip, and a hostile list may repeat one to its bound.
		for _, tag := range page {
			if _, ok := seen[tag]; !ok && bundle.ValidTag(tag) {
				seen[tag] = struct{}{}
				tags = append(tags, tag)
			}
		}
		if listed += len(page); listed > maxRepositoryTags {
			return tooMany(fmt.Sprintf("%d tags", maxRepositoryTags))
		}
		return nil
	}); errors.Is(err, errdef.ErrMalformed) {
		return nil, err
	} else if errors.Is(err, orasdef.ErrTooManyPages) {
		// The client's bound on pages (remote.Options), reached first
		// where a registry gives fewer than 100 tags a page.
		return nil, tooMany(fmt.Sprintf("%d pages of tags (%d tags)", remote.TagListMaxPages, listed))
	} else if err != nil && !isNotFound(err) {
		return nil, fmt.Errorf("list tags of %s/%s: %w", t.host, repo, remote.Classify(err))
	}
	return tags, nil
}

// taggedRoot is what bundleRoots keeps of one tag: the bundle root it
// names, or that root skipped as of a newer format; neither for a tag of
// anything else (a catalog, an image) or of nothing.
type taggedRoot struct {
	digest digest.Digest
	root   *bundleRoot
	newer  *SkippedRoot
}

// taggedRootAhead is a tag's read sent before the tag list was answered.
type taggedRootAhead struct {
	done chan struct{}
	got  taggedRoot
	err  error
}

func (a *taggedRootAhead) wait(ctx context.Context) (taggedRoot, error) {
	select {
	case <-a.done:
		return a.got, a.err
	case <-ctx.Done():
		return taggedRoot{}, ctx.Err()
	}
}

// readTaggedRootsAhead starts reading the tags (bundleRoots' also) at once,
// as listed tags (one not there is an error, which bundleRoots forgives
// where the list does not name the tag), and returns their reads by tag
// and what stops those still in flight. A read that fails other than
// "not there" is told to failed as it fails.
func (t *target) readTaggedRootsAhead(ctx context.Context, r *oremote.Repository, repo string, tags []string, failed context.CancelCauseFunc) (map[string]*taggedRootAhead, context.CancelFunc) {
	ctx, cancel := context.WithCancel(ctx)
	ahead := map[string]*taggedRootAhead{}
	for _, tag := range tags {
		if _, ok := ahead[tag]; ok || bundle.ReservedTag(tag) || !bundle.ValidTag(tag) {
			continue // as bundleRoots passes over it
		}
		a := &taggedRootAhead{done: make(chan struct{})}
		ahead[tag] = a
		go func() {
			defer close(a.done)
			defer func() {
				if a.err != nil && !isNotFound(a.err) && ctx.Err() == nil {
					failed(a.err)
				}
			}()
			defer errdef.Recover(&a.err) // a bug: the tag's answer, told by wait
			a.got, a.err = t.readTaggedRoot(ctx, r, repo, tag, false)
		}()
	}
	return ahead, cancel
}

// readTaggedRoot reads what tag names in r. A tag not listed (unlisted)
// that is not there is nothing.
func (t *target) readTaggedRoot(ctx context.Context, r *oremote.Repository, repo, tag string, unlisted bool) (taggedRoot, error) {
	desc, rc, err := r.Manifests().FetchReference(ctx, tag)
	if err != nil && unlisted && isNotFound(err) {
		return taggedRoot{}, nil
	}
	if err != nil {
		return taggedRoot{}, fmt.Errorf("read %s/%s:%s: %w", t.host, repo, tag, remote.Classify(err))
	}
	data, err := bundle.ReadAll(rc, desc, bundle.MaxManifestSize)
	rc.Close()
	if err != nil {
		return taggedRoot{}, fmt.Errorf("read %s/%s:%s: %w", t.host, repo, tag, err)
	}
	if !json.Valid(data) {
		// Whatever a tag names is a manifest, so JSON: a page of a proxy
		// or a broken registry, passed over as "no bundle root", would
		// hide the bundle the tag names from the rollback check.
		return taggedRoot{}, fmt.Errorf("read %s/%s:%s: the registry answered %d bytes that are no JSON, so no manifest (a proxy's page, or a broken registry): %w", t.host, repo, tag, len(data), errdef.ErrMalformed)
	}
	var versioned struct {
		SchemaVersion *int `json:"schemaVersion"`
	}
	if json.Unmarshal(data, &versioned) != nil || versioned.SchemaVersion == nil {
		// Every manifest (OCI, Docker, schema 1) has a schemaVersion: JSON
		// without one (an error document) is no tag of something else
		// than a bundle, and passed over it would hide the bundle the tag
		// names from the rollback check just the same.
		return taggedRoot{}, fmt.Errorf("read %s/%s:%s: the registry answered %d bytes of JSON with no schemaVersion, so no manifest (an error document, or a broken registry): %w", t.host, repo, tag, len(data), errdef.ErrMalformed)
	}
	idx, err := bundle.ParseRoot(data)
	if errors.Is(err, errdef.ErrNewerFormat) {
		return taggedRoot{digest: desc.Digest, newer: &SkippedRoot{Root: desc.Digest, Tag: tag, Reason: SkipNewerFormat, Error: err.Error()}}, nil
	}
	if err != nil {
		return taggedRoot{}, nil // a catalog, an image: no bundle root
	}
	g, _ := strconv.ParseInt(idx.Annotations[bundle.AnnotationGeneration], 10, 64)
	return taggedRoot{digest: desc.Digest, root: &bundleRoot{desc: plainDesc(desc), tag: tag, entry: InventoryBundle{
		BundleID: idx.Annotations[bundle.AnnotationBundleID], Version: idx.Annotations[ocispec.AnnotationVersion],
		Channel: idx.Annotations[bundle.AnnotationChannel], Generation: g, Root: desc.Digest,
		CreatedAt: idx.Annotations[ocispec.AnnotationCreated],
	}}}, nil
}

// graphReader reads the manifests of repo, keeping only their children.
func (t *target) graphReader(repo string) (*graphReader, error) {
	r, err := t.repo(repo)
	if err != nil {
		return nil, err
	}
	fetch := func(ctx context.Context, d ocispec.Descriptor) ([]byte, error) { return fetchManifest(ctx, r, d) }
	return newGraphReader(fetch, false), nil
}

// holding returns, sorted, the blobs repo actually holds.
func (t *target) holding(ctx context.Context, repo string, blobs map[digest.Digest]ocispec.Descriptor, limit int) ([]digest.Digest, error) {
	var mu sync.Mutex
	held := []digest.Digest{}
	g, ctx := errgroup.WithContext(ctx)
	g.SetLimit(limit)
	for _, d := range blobs {
		g.Go(func() error {
			ok, err := t.hasBlob(ctx, repo, d)
			if ok {
				mu.Lock()
				held = append(held, d.Digest)
				mu.Unlock()
			}
			return err
		})
	}
	if err := g.Wait(); err != nil {
		return nil, err
	}
	sortDigests(held)
	return held, nil
}
