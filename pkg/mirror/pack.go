package mirror

import (
	"context"
	"fmt"
	"os"
	"path/filepath"

	"github.com/stellaops/mirror/pkg/errdef"
	"github.com/stellaops/mirror/pkg/layout"
)

// PackOptions say what to pack where.
type PackOptions struct {
	// Dir is the bundle directory. Required.
	Dir string
	// Output is the archive to write; its suffix (.tar, .tar.gz, .tar.zst)
	// picks the codec. Required.
	Output string
	// Force replaces an existing Output.
	Force bool
}

// PackResult is what Pack wrote.
type PackResult struct {
	Path        string `json:"path"`
	Compression string `json:"compression"`
	Files       int    `json:"files"`
	// Bytes is the content packed, before compression; Size the archive's.
	Bytes int64 `json:"bytes"`
	Size  int64 `json:"size"`
}

// Pack writes a bundle directory as the deterministic tar of DESIGN.md.
// The archive is written beside its destination and renamed into place when
// complete, so Output holds a whole archive or nothing.
func Pack(ctx context.Context, opts PackOptions) (*PackResult, error) {
	codec, err := layout.CompressionFor(opts.Output)
	if err != nil {
		return nil, err
	}
	dir, err := layout.Open(opts.Dir)
	if err != nil {
		return nil, err
	}
	if _, err := os.Lstat(opts.Output); err == nil && !opts.Force {
		return nil, fmt.Errorf("%s: exists (use --force to replace it): %w", opts.Output, errdef.ErrExists)
	}
	tmp, err := os.CreateTemp(filepath.Dir(opts.Output), "."+filepath.Base(opts.Output)+".tmp-")
	if err != nil {
		return nil, err
	}
	defer os.Remove(tmp.Name())
	stats, err := dir.Pack(ctx, tmp, codec)
	if err == nil {
		err = tmp.Sync()
	}
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return nil, fmt.Errorf("pack %s: %w", opts.Dir, err)
	}
	st, err := os.Stat(tmp.Name())
	if err != nil {
		return nil, err
	}
	if err := os.Chmod(tmp.Name(), 0o644); err != nil {
		return nil, err
	}
	if err := os.Rename(tmp.Name(), opts.Output); err != nil {
		return nil, err
	}
	return &PackResult{Path: opts.Output, Compression: codec.String(), Files: stats.Files, Bytes: stats.Bytes, Size: st.Size()}, nil
}
