package layout

import (
	"fmt"
	"io"
	"path/filepath"

	"github.com/stellaops/mirror/pkg/bundle"
	"github.com/stellaops/mirror/pkg/errdef"
)

// Open opens a file of the bundle directory for streaming (a file of the
// human view: advisories/…, scripts/…, docs/…): a clean relative path,
// a regular file, not a symlink. Unlike ReadFile it sets no size bound; the
// caller verifies what it reads.
func (d *Dir) Open(name string) (io.ReadCloser, error) {
	if err := bundle.ValidPath(name); err != nil {
		return nil, fmt.Errorf("%v: %w", err, errdef.ErrMalformed)
	}
	return openRegular(filepath.Join(d.root, filepath.FromSlash(name)))
}
