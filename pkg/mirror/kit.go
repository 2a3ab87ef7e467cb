package mirror

import (
	"context"
	"io"
	"io/fs"
	"os"
	"path"

	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

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
	return eachKitFile(func(name string, r io.Reader, mediaType string, perm os.FileMode) (ocispec.Descriptor, error) {
		return dst.AddFile(ctx, name, r, mediaType, perm)
	})
}

// kitFiles are the entries addKit gives manifest.json, read from the
// embedded files alone: what create counts before it writes anything.
func kitFiles() ([]bundle.File, error) {
	return eachKitFile(func(_ string, r io.Reader, mediaType string, _ os.FileMode) (ocispec.Descriptor, error) {
		data, err := io.ReadAll(r)
		return ocispec.Descriptor{MediaType: mediaType, Digest: digest.FromBytes(data), Size: int64(len(data))}, err
	})
}

// eachKitFile hands every file of the kit to add, and returns its
// manifest.json entries with the descriptors add returned.
func eachKitFile(add func(name string, r io.Reader, mediaType string, perm os.FileMode) (ocispec.Descriptor, error)) ([]bundle.File, error) {
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
			desc, err := add(name, f, part.mediaType, part.perm)
			f.Close()
			if err != nil {
				return nil, err
			}
			files = append(files, bundle.File{Path: name, Source: kitSource, Digest: desc.Digest, Size: desc.Size, MediaType: part.mediaType})
		}
	}
	return files, nil
}
