package mirror

import (
	"context"
	"fmt"

	"github.com/opencontainers/go-digest"

	"github.com/stellaops/mirror/pkg/bundle"
	"github.com/stellaops/mirror/pkg/errdef"
	"github.com/stellaops/mirror/pkg/layout"
)

// checkNoStrayEntries refuses what a bundle directory, or an archive read
// at random, holds that is not part of the bundle: a blob no manifest of
// it reaches, a file manifest.json does not name. verify refuses it, and
// so does an import of an archive read as a stream (streamBlobs); import,
// push and serve of a directory or a plain tar took it, passed over. The
// same bundle now gets the same verdict (errdef.ErrMalformed, exit 11)
// whatever carries it. It reads names only: the plan knows every blob and
// manifest of the bundle. Its error starts with name, unless name is ""
// (a caller that names the bundle in every error, as serve does).
func checkNoStrayEntries(ctx context.Context, name string, store servedStore, plan *placement, m *bundle.Manifest) error {
	prefix := ""
	if name != "" {
		prefix = name + ": "
	}
	reached := map[digest.Digest]bool{}
	for dg := range plan.manifestDigests() {
		reached[dg] = true
	}
	for dg := range plan.byDig {
		reached[dg] = true
	}
	switch s := store.(type) {
	case dirStore:
		if err := checkNoStrayFiles(s.Dir, m); err != nil {
			return err
		}
		if err := checkNoStrayBlobs(ctx, s.Dir, reached); err != nil {
			if name == "" {
				return err
			}
			return inBundle(name, err) // named once: "DIR: DIR/blobs/…" said it twice
		}
	case *tarStore:
		named := map[string]bool{}
		for _, f := range m.HumanView() {
			named[f.Path] = true
		}
		for _, entry := range s.Names() {
			if dg, ok := layout.BlobDigest(entry); ok {
				if !reached[dg] {
					return fmt.Errorf("%sarchive entry %s is not part of the bundle: %w", prefix, entry, errdef.ErrMalformed)
				}
				continue
			}
			if !named[entry] && !layout.IsHeadFile(entry) {
				if err := clutterEntryError(prefix, entry); err != nil {
					return err
				}
				return fmt.Errorf("%sarchive entry %q is not part of the bundle: %w", prefix, entry, errdef.ErrMalformed)
			}
		}
	}
	return nil
}

// checkNoStrays is checkNoStrayEntries for a source read at random; a
// stream checks its entries as it reads them, and a registry holds none.
func (s *source) checkNoStrays(ctx context.Context, plan *placement, m *bundle.Manifest) error {
	if s.store == nil {
		return nil
	}
	return checkNoStrayEntries(ctx, s.name, s.store, plan, m)
}
