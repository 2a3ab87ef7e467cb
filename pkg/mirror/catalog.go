package mirror

import (
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"sort"
	"time"

	"github.com/opencontainers/go-digest"
	specs "github.com/opencontainers/image-spec/specs-go"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	"oras.land/oras-go/v2/registry"

	"github.com/stellaops/mirror/pkg/bundle"
	"github.com/stellaops/mirror/pkg/errdef"
	"github.com/stellaops/mirror/pkg/keys"
	"github.com/stellaops/mirror/pkg/layout"
	"github.com/stellaops/mirror/pkg/remote"
	"github.com/stellaops/mirror/pkg/transfer"
)

// Catalog media types and names (the plan's catalog.dsse).
const (
	ArtifactTypeCatalog = "application/vnd.stellaops.mirror.catalog.v1+json"
	PayloadTypeCatalog  = "application/vnd.stellaops.mirror-catalog+json"
	CatalogTag          = "catalog"
	CatalogFileName     = "catalog.json"
	CatalogEnvelopeName = "catalog.dsse"
)

// CatalogFile is catalog.json: the bundles published in a bundle
// repository, oldest generation first.
type CatalogFile struct {
	SchemaVersion int            `json:"schemaVersion"`
	Repository    string         `json:"repository"`
	GeneratedAt   time.Time      `json:"generatedAt"`
	Bundles       []CatalogEntry `json:"bundles"`
}

// CatalogEntry is one published bundle.
type CatalogEntry struct {
	Version    string        `json:"version"`
	Channel    string        `json:"channel,omitempty"`
	Generation int64         `json:"mirrorGeneration"`
	BundleID   string        `json:"bundleId"`
	Root       digest.Digest `json:"root"`
	Base       *CatalogBase  `json:"base,omitempty"`
	CreatedAt  time.Time     `json:"createdAt"`
	ExpiresAt  time.Time     `json:"expiresAt"`
}

// CatalogBase names a delta's base.
type CatalogBase struct {
	BundleID   string        `json:"bundleId"`
	Root       digest.Digest `json:"root"`
	Generation int64         `json:"generation"`
}

// CatalogOptions say which bundle repository to catalog, or to check.
type CatalogOptions struct {
	// Repository is host/repository. Required.
	Repository string
	// Key signs the catalog (required unless Verify); Password unlocks it.
	Key      string
	Password keys.PassFunc
	// Verify checks the stored catalog instead: its signature against
	// Trust, and that every root it lists exists.
	Verify bool
	Trust  TrustOptions
	// BundleTrust says whose bundles count: a catalog lists only the roots
	// whose signature verifies under it, and --verify counts only those
	// among the roots it does not list. Empty means the public half of
	// Key when writing, Trust with Verify.
	BundleTrust TrustOptions
	// Output, if set, is a directory that receives catalog.json and
	// catalog.dsse (for media).
	Output string
	Now    time.Time
	Client *remote.Client
	Logger *slog.Logger
}

// CatalogResult is the catalog written or checked.
type CatalogResult struct {
	Repository string             `json:"repository"`
	Catalog    ocispec.Descriptor `json:"catalog"`
	Bundles    []CatalogEntry     `json:"bundles"`
	Verified   bool               `json:"verified"`
	Files      []string           `json:"files,omitempty"`
	// Warnings are what --verify passed but points out (also logged).
	Warnings []string `json:"warnings,omitempty"`
	// NotVerified and NewerFormat count the roots of the repository left
	// out (not listed when writing; not counted against the catalog with
	// Verify): their signature did not verify under the bundle trust, or a
	// newer stella made them. Skipped names each (also logged).
	NotVerified int           `json:"notVerified"`
	NewerFormat int           `json:"newerFormat"`
	Skipped     []SkippedRoot `json:"skipped,omitempty"`
}

// Catalog writes (or, with Verify, checks) the signed catalog of a bundle
// repository: catalog.json as an OCI artifact tagged "catalog" with its
// DSSE envelope as a referrer, and optionally as files.
func Catalog(ctx context.Context, opts CatalogOptions) (*CatalogResult, error) {
	if err := refuseScheme(opts.Repository); err != nil {
		return nil, err
	}
	ref, err := registry.ParseReference(opts.Repository)
	if err != nil || ref.Reference != "" {
		return nil, fmt.Errorf("catalog: %q is not host/repository: %w", opts.Repository, errdef.ErrUsage)
	}
	tgt := newTarget(ref.Registry, opts.Client, transfer.Options{})
	if opts.Verify {
		return verifyCatalog(ctx, tgt, ref.Repository, opts)
	}
	if opts.Key == "" {
		return nil, fmt.Errorf("catalog: no --key to sign with: %w", errdef.ErrUsage)
	}
	return writeCatalog(ctx, tgt, ref.Repository, opts, false)
}

// buildCatalog reads every bundle root tagged in repo, and lists those
// whose signature verifies under trust, from their signed manifest.json
// (expiry and base too); it returns the others, skipped.
func buildCatalog(ctx context.Context, tgt *target, repo string, now time.Time, trust TrustOptions, log *slog.Logger) (*CatalogFile, []SkippedRoot, error) {
	all, skipped, err := tgt.bundleRoots(ctx, repo)
	if err != nil {
		return nil, nil, err
	}
	roots, refused, err := tgt.verifyRoots(ctx, repo, all, trust, concurrency(tgt.opts.Concurrency), log)
	if err != nil {
		return nil, nil, err
	}
	skipped = append(skipped, refused...)
	cat := &CatalogFile{SchemaVersion: bundle.CatalogVersion, Repository: tgt.host + "/" + repo, GeneratedAt: now.UTC().Truncate(time.Second), Bundles: []CatalogEntry{}}
	for _, root := range roots {
		m := root.manifest
		e := CatalogEntry{Version: m.Release.Version, Channel: m.Release.Channel, Generation: m.MirrorGeneration, BundleID: m.BundleID,
			Root: root.desc.Digest, CreatedAt: m.CreatedAt, ExpiresAt: m.ExpiresAt}
		if m.Base != nil {
			e.Base = &CatalogBase{BundleID: m.Base.BundleID, Root: m.Base.Root, Generation: m.Base.Generation}
		}
		cat.Bundles = append(cat.Bundles, e)
	}
	sort.Slice(cat.Bundles, func(i, j int) bool { return cat.Bundles[i].Generation < cat.Bundles[j].Generation })
	return cat, skipped, nil
}

// writeCatalog signs and stores the catalog of repo (and writes its files,
// with Output). With keepCurrent (a refresh after a push or import), a
// catalog in place that is current is left as it is (currentCatalog).
func writeCatalog(ctx context.Context, tgt *target, repo string, opts CatalogOptions, keepCurrent bool) (*CatalogResult, error) {
	now := opts.Now
	if now.IsZero() {
		now = time.Now()
	}
	// The output directory is made first: one that cannot be made fails
	// the command before the catalog is pushed, not after.
	if opts.Output != "" {
		if err := os.MkdirAll(opts.Output, 0o755); err != nil {
			return nil, fmt.Errorf("--output: %w", err)
		}
	}
	// The key is opened before the bundles are read: one that does not
	// open fails before any request, and its KDF's working memory (64 MiB
	// for cosign's scrypt) is spent and gone before every bundle's
	// manifest.json is read, rather than on top of them.
	sign, pub, err := documentSignerKey(ctx, opts.Key, opts.Password, PayloadTypeCatalog)
	if err != nil {
		return nil, err
	}
	// The catalog is the signer's statement of what is published: it
	// lists the bundles the signer's trust accepts, by default those
	// signed with the catalog's own key.
	trust := opts.BundleTrust
	if trust.Empty() {
		trust = trust.withKey(pub)
	}
	if trust, err = trust.load(ctx); err != nil {
		return nil, err
	}
	log := logger(opts.Logger)
	cat, skipped, err := buildCatalog(ctx, tgt, repo, now, trust, log)
	if err != nil {
		return nil, err
	}
	logSkipped(log, skipped)
	if keepCurrent {
		if desc, ok := currentCatalog(ctx, tgt, repo, cat, pub, log); ok {
			tgt.inPlace.Add(1) // its tag, as a tag placed that serves its manifest
			res := &CatalogResult{Repository: cat.Repository, Catalog: desc, Bundles: cat.Bundles, Skipped: skipped}
			res.NotVerified, res.NewerFormat = countSkipped(skipped)
			log.Info("catalog already current, left as it is", "repository", cat.Repository, "bundles", len(cat.Bundles))
			return res, nil
		}
	}
	data, err := bundle.Canonical(cat)
	if err != nil {
		return nil, err
	}
	env, err := sign(data)
	if err != nil {
		return nil, err
	}
	desc, err := storeCatalog(ctx, tgt, repo, data, env, now)
	if err != nil {
		return nil, err
	}
	res := &CatalogResult{Repository: cat.Repository, Catalog: desc, Bundles: cat.Bundles, Skipped: skipped}
	res.NotVerified, res.NewerFormat = countSkipped(skipped)
	if opts.Output != "" {
		// Under the directory's writers' lock, as inventory's pair: two
		// runs at once would otherwise leave one's catalog.json beside the
		// other's catalog.dsse.
		unlock, err := writeLock(ctx, opts.Output, log)
		if err != nil {
			return nil, err
		}
		defer unlock()
		// The old envelope goes first and the new one comes last: stopped
		// in between (killed, the disk full), the directory holds an
		// unsigned catalog, never a catalog beside an envelope over
		// another, a pair that reads whole.
		envPath := filepath.Join(opts.Output, CatalogEnvelopeName)
		if err := os.Remove(envPath); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return nil, err
		}
		if err := removeStaleOutputs(filepath.Join(opts.Output, CatalogFileName), envPath); err != nil {
			return nil, err
		}
		for _, f := range []struct {
			name    string
			content []byte
		}{{CatalogFileName, data}, {CatalogEnvelopeName, env}} {
			p := filepath.Join(opts.Output, f.name)
			if err := layout.WriteFileAtomic(p, f.content, 0o644); err != nil {
				return nil, err
			}
			res.Files = append(res.Files, p)
		}
		sort.Strings(res.Files)
	}
	log.Info("catalog written", "repository", cat.Repository, "bundles", len(cat.Bundles))
	return res, nil
}

// storeCatalog pushes catalog.json as an artifact tagged "catalog", and its
// envelope as a DSSE referrer of it.
func storeCatalog(ctx context.Context, tgt *target, repo string, data, env []byte, now time.Time) (ocispec.Descriptor, error) {
	layer := ocispec.Descriptor{MediaType: ArtifactTypeCatalog, Digest: digest.FromBytes(data), Size: int64(len(data)),
		Annotations: map[string]string{ocispec.AnnotationTitle: CatalogFileName}}
	man := ocispec.Manifest{Versioned: specs.Versioned{SchemaVersion: 2}, MediaType: ocispec.MediaTypeImageManifest,
		ArtifactType: ArtifactTypeCatalog, Config: bundle.EmptyConfig, Layers: []ocispec.Descriptor{layer},
		Annotations: map[string]string{ocispec.AnnotationCreated: now.UTC().Format(time.RFC3339)}}
	manBytes, err := bundle.Compact(man)
	if err != nil {
		return ocispec.Descriptor{}, err
	}
	desc := ocispec.Descriptor{MediaType: ocispec.MediaTypeImageManifest, ArtifactType: ArtifactTypeCatalog, Digest: digest.FromBytes(manBytes), Size: int64(len(manBytes))}
	envDesc := ocispec.Descriptor{MediaType: bundle.ArtifactTypeDSSE, Digest: digest.FromBytes(env), Size: int64(len(env))}
	sig, err := bundle.SignatureManifest(desc, envDesc, now)
	if err != nil {
		return ocispec.Descriptor{}, err
	}
	for _, b := range []struct {
		d    ocispec.Descriptor
		data []byte
	}{{bundle.EmptyConfig, bundle.EmptyConfigBytes}, {plainDesc(layer), data}, {envDesc, env}} {
		if err := tgt.putBytes(ctx, repo, b.d, b.data); err != nil {
			return ocispec.Descriptor{}, err
		}
	}
	if err := tgt.pushManifests(ctx, []manifestPlace{newManifestPlace(repo, plainDesc(desc), manBytes)}); err != nil {
		return ocispec.Descriptor{}, err
	}
	if _, err := tgt.detectReferrers(ctx, repo, desc.Digest); err != nil {
		return ocispec.Descriptor{}, err
	}
	if err := tgt.pushManifests(ctx, []manifestPlace{newManifestPlace(repo, plainDesc(sig.Descriptor), sig.Bytes)}); err != nil {
		return ocispec.Descriptor{}, err
	}
	return desc, tgt.tag(ctx, []tagPlace{{repo: repo, tag: CatalogTag, desc: plainDesc(desc), data: manBytes}})
}

// verifyCatalog reads the catalog tagged in repo, verifies its signature,
// checks it was signed for repo, that every root it lists exists there and
// that it leaves out no newer bundle repo holds.
func verifyCatalog(ctx context.Context, tgt *target, repo string, opts CatalogOptions) (*CatalogResult, error) {
	if opts.Trust.Empty() {
		return nil, fmt.Errorf("catalog --verify: no trusted key (--key PUB): %w", errdef.ErrUsage)
	}
	cat, desc, err := readCatalog(ctx, tgt, repo, opts.Trust)
	if err != nil {
		return nil, err
	}
	warning, err := checkCatalogRepository(cat, tgt.host, repo)
	if err != nil {
		return nil, err
	}
	var warnings []string
	if warning != "" {
		warnings = append(warnings, warning)
	}
	r, err := tgt.repo(repo)
	if err != nil {
		return nil, err
	}
	roots, skipped, err := tgt.bundleRoots(ctx, repo)
	if err != nil {
		return nil, err
	}
	tagged := map[digest.Digest]bool{}
	for _, root := range roots {
		tagged[root.desc.Digest] = true
	}
	for _, b := range cat.Bundles {
		if tagged[b.Root] {
			continue // there, as its tag was just read
		}
		ok, err := r.Manifests().Exists(ctx, ocispec.Descriptor{MediaType: ocispec.MediaTypeImageIndex, Digest: b.Root})
		if err != nil {
			return nil, remote.Classify(err)
		}
		if !ok {
			return nil, fmt.Errorf("catalog of %s/%s lists %s (generation %d, root %s), which is not there: %w", tgt.host, repo, b.BundleID, b.Generation, b.Root, errdef.ErrNotFound)
		}
	}
	// The roots the catalog leaves out count against it only if they
	// verify: a root anyone pushed makes no signed catalog out of date.
	bundleTrust := opts.BundleTrust
	if bundleTrust.Empty() {
		bundleTrust = opts.Trust
	}
	if bundleTrust, err = bundleTrust.load(ctx); err != nil {
		return nil, err
	}
	unlisted, refused, err := checkCatalogCurrent(ctx, tgt, repo, cat, roots, bundleTrust, catalogCommand(tgt, repo, opts.BundleTrust), logger(opts.Logger))
	if err != nil {
		return nil, err
	}
	if opts.BundleTrust.Empty() {
		if err := checkCatalogKeySignsBundles(ctx, tgt, repo, cat, roots, refused, bundleTrust); err != nil {
			return nil, err
		}
	}
	warnings = append(warnings, unlisted...)
	for _, w := range warnings {
		logger(opts.Logger).Warn(w)
	}
	skipped = append(skipped, refused...)
	logSkipped(logger(opts.Logger), skipped)
	res := &CatalogResult{Repository: cat.Repository, Catalog: desc, Bundles: cat.Bundles, Verified: true, Warnings: warnings, Skipped: skipped}
	res.NotVerified, res.NewerFormat = countSkipped(skipped)
	return res, nil
}

// readCatalog reads the catalog tagged in repo and verifies its signature
// under trust (one of its envelopes verifies: eachCatalogEnvelope) and its
// format; it returns it and the descriptor of its artifact. Whom it was
// signed for is the caller's to check (checkCatalogRepository).
func readCatalog(ctx context.Context, tgt *target, repo string, trust TrustOptions) (*CatalogFile, ocispec.Descriptor, error) {
	r, err := tgt.repo(repo)
	if err != nil {
		return nil, ocispec.Descriptor{}, err
	}
	desc, rc, err := r.Manifests().FetchReference(ctx, CatalogTag)
	if err != nil {
		return nil, ocispec.Descriptor{}, fmt.Errorf("catalog of %s/%s: %w", tgt.host, repo, remote.Classify(err))
	}
	manBytes, err := bundle.ReadAll(rc, desc, bundle.MaxManifestSize)
	rc.Close()
	if err != nil {
		return nil, ocispec.Descriptor{}, err
	}
	var man ocispec.Manifest
	if err := json.Unmarshal(manBytes, &man); err != nil || man.ArtifactType != ArtifactTypeCatalog || len(man.Layers) != 1 {
		return nil, ocispec.Descriptor{}, fmt.Errorf("%s/%s:%s is not a catalog: %w", tgt.host, repo, CatalogTag, errdef.ErrMalformed)
	}
	data, err := transfer.FetchBytes(ctx, r.Blobs(), man.Layers[0])
	if err != nil {
		return nil, ocispec.Descriptor{}, remote.Classify(err)
	}
	// The catalog verifies if one of its envelopes does; the first
	// failure is the one reported when none does.
	var verr error
	verified := false
	if err := eachCatalogEnvelope(ctx, r, plainDesc(desc), maxHeldEnvelope(len(data)), func(env []byte) (bool, error) {
		_, err := verifyDocument(ctx, env, PayloadTypeCatalog, data, trust)
		switch {
		case err == nil:
			verified = true
			return true, nil
		case errors.Is(err, errdef.ErrUsage):
			return true, err
		}
		verr = cmp.Or(verr, err)
		return false, nil
	}); err != nil {
		return nil, ocispec.Descriptor{}, fmt.Errorf("catalog of %s/%s: %w", tgt.host, repo, err)
	}
	if !verified {
		return nil, ocispec.Descriptor{}, fmt.Errorf("catalog of %s/%s: %w", tgt.host, repo, verr)
	}
	if err := bundle.CheckSchemaVersion("catalog of "+tgt.host+"/"+repo, data, bundle.CatalogVersion); err != nil {
		return nil, ocispec.Descriptor{}, err
	}
	var cat CatalogFile
	if err := bundle.DecodeCanonical(data, &cat); err != nil {
		return nil, ocispec.Descriptor{}, fmt.Errorf("catalog of %s/%s: %w", tgt.host, repo, err)
	}
	if cat.SchemaVersion != bundle.CatalogVersion {
		return nil, ocispec.Descriptor{}, fmt.Errorf("catalog of %s/%s: schemaVersion %d, not %d: %w", tgt.host, repo, cat.SchemaVersion, bundle.CatalogVersion, errdef.ErrMalformed)
	}
	return &cat, plainDesc(desc), nil
}

// eachCatalogEnvelope gives try the envelope of each DSSE referrer of the
// catalog manifest, in the order listed, one at a time, until try says it
// is done (or fails). Anyone who may push to the repository can attach
// one, so the caller tries each: the first listed used to be the only one
// read, and an envelope attached ahead of the signer's failed the
// verification of a sound catalog. One at a time: a hostile repository's
// 1000 referrers of 4 MiB envelopes are never held together. And only
// the referrers a signature check needs, as of a held bundle root
// (heldCandidates: listed as a signature, of a signature referrer's size,
// at most maxHeldSignatures), with no envelope over maxEnvelope (one over
// the catalog can be no larger): every refresh after an import or push
// reads them, and an SBOM or anything else attached is never fetched.
// Where none of those read verifies and some were past the bound, it
// fails (errTooManySignatures).
func eachCatalogEnvelope(ctx context.Context, r interface {
	registry.ReferrerLister
	Manifests() registry.ManifestStore
	Blobs() registry.BlobStore
}, desc ocispec.Descriptor, maxEnvelope int64, try func(env []byte) (bool, error)) error {
	var refs []ocispec.Descriptor
	if err := r.Referrers(ctx, desc, "", func(page []ocispec.Descriptor) error {
		refs = append(refs, page...)
		if len(refs) > transfer.MaxReferrers {
			return fmt.Errorf("catalog %s: more than %d referrers: %w", desc.Digest, transfer.MaxReferrers, errdef.ErrMalformed)
		}
		return nil
	}); err != nil {
		return remote.Classify(err)
	}
	found := false
	candidates, dropped := heldCandidates(refs, false)
	for _, ref := range candidates {
		data, err := transfer.FetchBytes(ctx, r.Manifests(), plainDesc(ref))
		if err != nil {
			continue
		}
		var man ocispec.Manifest
		if json.Unmarshal(data, &man) != nil || man.ArtifactType != bundle.ArtifactTypeDSSE || len(man.Layers) != 1 || man.Layers[0].Size > maxEnvelope {
			continue
		}
		env, err := transfer.FetchBytes(ctx, r.Blobs(), man.Layers[0])
		if err != nil {
			continue
		}
		found = true
		if done, err := try(env); done || err != nil {
			return err
		}
	}
	switch {
	case dropped > 0:
		// None of those read verified: fail closed, naming why, rather
		// than read it as unsigned or signed by another.
		return fmt.Errorf("catalog %s: %w", desc.Digest, errTooManySignatures)
	case !found:
		return fmt.Errorf("catalog %s has no signature: %w", desc.Digest, errdef.ErrSignature)
	}
	return nil
}

// refreshCatalog re-signs the catalog of repo after a push or import, when
// a key is given; without one an existing catalog is left as it was (and
// says so in the log), since only a key holder may speak for the list.
//
// It lists the bundles trust accepts, the trust the bundle just placed
// was verified with; empty (push and sync without --key), those signed
// with the catalog key, as catalog does.
func refreshCatalog(ctx context.Context, tgt *target, repo, key string, pass keys.PassFunc, trust TrustOptions, log *slog.Logger) error {
	if key == "" {
		log.Info("catalog not refreshed (no --catalog-key)", "repository", tgt.host+"/"+repo)
		return nil
	}
	if _, err := writeCatalog(ctx, tgt, repo, CatalogOptions{Key: key, Password: pass, BundleTrust: trust, Logger: log}, true); err != nil {
		// The bundle is placed and tagged by now: said so, lest the
		// error (a repository over MaxUnverifiedRoots, exit 5) read as
		// the bundle's own.
		return fmt.Errorf("the bundle is in place, but the catalog of %s/%s was not refreshed (once mended: %s): %w", tgt.host, repo, catalogCommand(tgt, repo, trust), err)
	}
	return nil
}

// currentCatalog reports whether the catalog tagged in repo already says
// what want says: it verifies under the catalog key (pub), and but for
// generatedAt (when it was signed) it is want, byte for byte as signed
// (its format, every bundle listed and each entry's every field, the
// repository path it is signed for). The host it names may be another
// name of this registry, as catalog --verify allows
// (checkCatalogRepository): a re-run through another name
// (registry.internal:5000, 127.0.0.1:5000, a proxy) would otherwise sign
// again only to change the name, a write a read-only registry refuses. Then a refresh writes nothing: a re-run of a
// finished import or push passes on a registry that takes no push (read
// only, a pull-through cache), and the catalog's generatedAt stays the
// time the list it signs last changed. It returns the catalog's
// descriptor. A catalog that is not there, does not read or verify, or
// says anything else is not current: it is written again, as ever.
func currentCatalog(ctx context.Context, tgt *target, repo string, want *CatalogFile, pub *keys.Verifier, log *slog.Logger) (ocispec.Descriptor, bool) {
	trust, err := TrustOptions{}.withKey(pub).load(ctx)
	if err != nil {
		return ocispec.Descriptor{}, false
	}
	held, desc, err := readCatalog(ctx, tgt, repo, trust)
	if err != nil {
		if !isNotFound(err) {
			log.Debug("catalog in place not current: written again", "repository", tgt.host+"/"+repo, "reason", err.Error())
		}
		return ocispec.Descriptor{}, false
	}
	if _, err := checkCatalogRepository(held, tgt.host, repo); err != nil {
		return ocispec.Descriptor{}, false
	}
	a, b := *held, *want
	a.GeneratedAt, b.GeneratedAt = time.Time{}, time.Time{}
	a.Repository = b.Repository
	heldBytes, err1 := bundle.Canonical(&a)
	wantBytes, err2 := bundle.Canonical(&b)
	return desc, err1 == nil && err2 == nil && bytes.Equal(heldBytes, wantBytes)
}
