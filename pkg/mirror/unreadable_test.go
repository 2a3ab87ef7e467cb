package mirror_test

import (
	"context"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stellaops/mirror/internal/sample"
	"github.com/stellaops/mirror/internal/testutil"
	"github.com/stellaops/mirror/pkg/errdef"
	"github.com/stellaops/mirror/pkg/mirror"
)

// A bundle file the user running stella may not read (chmod 000, or owned
// by another user): an archive was told `bundle.tar: not found`, a blob of a
// bundle directory or a volume of a split archive a bare `open …:
// permission denied`, with nothing to do. Now each is one line naming the
// file, saying to check its permissions and ownership or to run as a user
// who may read it, exit 1 (fs.ErrPermission; no mismatch, nothing not
// found), before any tag is written. Root reads any file: the test needs
// another user.
func TestImportUnreadableFile(t *testing.T) {
	if os.Geteuid() == 0 {
		t.Skip("root reads a file whatever its permissions")
	}
	ctx := context.Background()
	s := newSignedSample(t, sample.Spec{BaseLayerSize: 1 << 20}, 0)
	tar := s.pack(t, ".tar")
	split := filepath.Join(t.TempDir(), "bundle.tar")
	packed, err := mirror.Pack(ctx, mirror.PackOptions{Dir: s.dir, Output: split, Split: 512 << 10})
	if err != nil {
		t.Fatal(err)
	}
	volume := filepath.Join(filepath.Dir(split), packed.Volumes[len(packed.Volumes)-1].Name)
	// The largest blob of the directory: a layer, read once the
	// signature verified.
	var blob string
	var size int64
	filepath.WalkDir(filepath.Join(s.dir, "blobs"), func(p string, d fs.DirEntry, err error) error {
		if fi, _ := d.Info(); fi != nil && !d.IsDir() && fi.Size() > size {
			blob, size = p, fi.Size()
		}
		return nil
	})
	for _, tt := range []struct{ name, source, file string }{
		{"archive", tar, tar},
		{"blob of a directory", s.dir, blob},
		{"volume", packed.VolumeList, volume},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if err := os.Chmod(tt.file, 0); err != nil {
				t.Fatal(err)
			}
			defer os.Chmod(tt.file, 0o644)
			dst := testutil.Registry(t)
			_, err := mirror.Import(ctx, importOpts(t, tt.source, dst, s.pub))
			if err == nil || !errors.Is(err, fs.ErrPermission) || errors.Is(err, errdef.ErrNotFound) || errors.Is(err, errdef.ErrDigestMismatch) ||
				!strings.Contains(err.Error(), tt.file+": permission denied (this user may not read the file: check its permissions and ownership") ||
				strings.Contains(err.Error(), "sound media") || strings.Contains(err.Error(), "\n") {
				t.Errorf("import with %s unreadable: %v\nwant one line naming it, saying to check its permissions", tt.file, err)
			}
			if tags := testutil.Tags(t, dst); len(tags) != 0 {
				t.Errorf("import wrote tags %v", tags)
			}
		})
	}
}
