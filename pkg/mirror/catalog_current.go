package mirror

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/opencontainers/go-digest"

	"github.com/stellaops/mirror/pkg/errdef"
)

// checkCatalogRepository binds a verified catalog to the repository it is
// verified in. The signature covers the repository the catalog names, so
// one naming another repository path is refused as a signature that does
// not cover this one: a catalog of repository A copied into B, which
// holds the same bundles, would otherwise pass as B's. The host is only
// compared for a warning: one registry is reached under several names
// (127.0.0.1:5000, localhost:5000, a DNS name and its address), which a
// signature cannot know, and what the catalog lists is checked against
// this registry's content whatever its host.
func checkCatalogRepository(cat *CatalogFile, host, repo string) (warning string, err error) {
	here := host + "/" + repo
	signedHost, signedRepo, ok := strings.Cut(cat.Repository, "/")
	if !ok || signedRepo != repo {
		return "", fmt.Errorf("catalog of %s is signed for %s, another repository: it speaks only for the one it was written for: %w", here, cat.Repository, errdef.ErrSignature)
	}
	if !strings.EqualFold(signedHost, host) {
		return fmt.Sprintf("catalog of %s is signed for %s: the same repository path under another host name, taken as the same registry; what it lists was checked against %s", here, cat.Repository, host), nil
	}
	return "", nil
}

// checkCatalogCurrent compares a verified catalog with the bundle roots
// repo holds (tagged there: bundleRoots). A root it does not list, of a generation no older than the
// newest it lists (or any, for a catalog that lists none), makes it out of
// date: it no longer names the newest bundle, which a replayed older
// catalog, or a push without --catalog-key, would hide. A root it does not
// list of an older generation is a warning: it changes nothing about the
// newest, and pushing an older bundle (--allow-rollback) leaves one.
func checkCatalogCurrent(ctx context.Context, tgt *target, repo string, cat *CatalogFile, roots []bundleRoot, trust TrustOptions, rewrite string, log *slog.Logger) (warnings []string, skipped []SkippedRoot, err error) {
	listed := map[digest.Digest]bool{}
	newest, has := int64(0), false
	for _, b := range cat.Bundles {
		listed[b.Root] = true
		if !has || b.Generation > newest {
			newest, has = b.Generation, true
		}
	}
	here := tgt.host + "/" + repo
	var unlisted []bundleRoot
	for _, root := range roots {
		if !listed[root.desc.Digest] {
			unlisted = append(unlisted, root)
		}
	}
	verified, skipped, err := tgt.verifyRoots(ctx, repo, unlisted, trust, concurrency(tgt.opts.Concurrency), log)
	if err != nil {
		return nil, nil, err
	}
	var stale *CatalogEntry
	for _, root := range verified {
		m := root.manifest
		e := CatalogEntry{Version: m.Release.Version, Generation: m.MirrorGeneration, BundleID: m.BundleID, Root: root.desc.Digest}
		if !has || e.Generation >= newest {
			if stale == nil || e.Generation > stale.Generation {
				stale = &e
			}
			continue
		}
		warnings = append(warnings, fmt.Sprintf("catalog of %s does not list %s (version %s, generation %d, root %s), which the repository holds: older than the newest it lists, generation %d, it was placed after the catalog was written",
			here, e.BundleID, e.Version, e.Generation, e.Root, newest))
	}
	if stale != nil {
		lists := "lists no bundle"
		if has {
			lists = fmt.Sprintf("lists up to generation %d", newest)
		}
		return nil, nil, fmt.Errorf("catalog of %s (generated %s) %s, but the repository holds %s (version %s, generation %d, root %s): write it again (%s): %w",
			here, cat.GeneratedAt.Format(time.RFC3339), lists, stale.BundleID, stale.Version, stale.Generation, stale.Root, rewrite, errdef.ErrOutOfDate)
	}
	return warnings, skipped, nil
}

// checkCatalogKeySignsBundles decides, for catalog --verify without
// --bundle-key, whether the unlisted roots that did not verify under the
// catalog's key (refused) may be passed over as pushed by anyone. They may
// if that key signs the repository's bundles: the newest bundle the
// catalog lists verifies under it. Where it does not (a catalog signed
// with a key of its own, the far side's, say), a bundle published since
// the catalog was written fails to verify under it just as a forged one
// does, and passing over it would pass a catalog that is out of date: the
// check cannot be made, and fails, asking for the bundles' signer's key.
func checkCatalogKeySignsBundles(ctx context.Context, tgt *target, repo string, cat *CatalogFile, roots []bundleRoot, refused []SkippedRoot, trust TrustOptions) error {
	var first *SkippedRoot
	for i := range refused {
		if refused[i].Reason == SkipNotVerified {
			first = &refused[i]
			break
		}
	}
	if first == nil {
		return nil
	}
	var newest *CatalogEntry
	for i, b := range cat.Bundles {
		if newest == nil || b.Generation > newest.Generation {
			newest = &cat.Bundles[i]
		}
	}
	if newest != nil {
		for _, r := range roots {
			if r.desc.Digest != newest.Root {
				continue
			}
			ok, _, err := tgt.verifyRoots(ctx, repo, []bundleRoot{r}, trust, 1, logger(nil))
			if err != nil {
				return err
			}
			if len(ok) == 1 {
				return nil
			}
		}
	}
	return fmt.Errorf("catalog --verify of %s/%s: bundle root %s (tag %s), which the catalog does not list, does not verify under the catalog's key, nor does the newest bundle it lists: it may be a bundle published since or one pushed by anyone; give --bundle-key with the key the bundles are signed with: %w",
		tgt.host, repo, first.Root, first.Tag, errdef.ErrUsage)
}
