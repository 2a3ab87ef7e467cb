package mirror

import (
	"context"
	"io/fs"
	"os"
	"path"

	"github.com/stellaops/mirror/deploy/airgap"
	"github.com/stellaops/mirror/docs"
	"github.com/stellaops/mirror/pkg/bundle"
	"github.com/stellaops/mirror/pkg/layout"
)

// kitSource is the source recorded for the scripts and guides every bundle
// carries.
const kitSource = "stellaops-mirror"

// addKit writes the operator scripts (scripts/*.sh) and guides (docs/*.md)
// into the bundle.
func addKit(ctx context.Context, dst *layout.Staging) ([]bundle.File, error) {
	var files []bundle.File
	for _, part := range []struct {
		fsys      fs.FS
		dir       string
		mediaType string
		perm      os.FileMode
	}{
		{airgap.Scripts, "scripts", bundle.MediaTypeShellScript, 0o755},
		{docs.Guides, "docs", bundle.MediaTypeMarkdown, 0o644},
	} {
		entries, err := fs.ReadDir(part.fsys, ".")
		if err != nil {
			return nil, err
		}
		for _, e := range entries {
			f, err := part.fsys.Open(e.Name())
			if err != nil {
				return nil, err
			}
			name := path.Join(part.dir, e.Name())
			desc, err := dst.AddFile(ctx, name, f, part.mediaType, part.perm)
			f.Close()
			if err != nil {
				return nil, err
			}
			files = append(files, bundle.File{Path: name, Source: kitSource, Digest: desc.Digest, Size: desc.Size, MediaType: part.mediaType})
		}
	}
	return files, nil
}
