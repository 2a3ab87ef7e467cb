package mirror

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/stellaops/mirror/pkg/layout"

	"github.com/stellaops/mirror/pkg/errdef"
)

// placeFile puts the finished temporary file tmp at path; the caller
// removes tmp. With force it renames tmp over whatever is there. Without,
// it links tmp to path, which fails if path exists: of two runs writing one
// path at once, one places its file and the other fails (errdef.ErrExists),
// where a check then a rename would let both succeed and the later one
// silently replace the file the earlier one reported. A filesystem without
// hard links (FAT and exFAT media) gets the check and the rename. The
// directory is then synced, so that the name survives a power cut.
func placeFile(tmp, path string, force bool) error {
	if err := linkOrRename(tmp, path, force); err != nil {
		return err
	}
	return syncDir(filepath.Dir(path))
}

// syncDir is layout.SyncDir; a test makes it fail, as EIO would.
var syncDir = layout.SyncDir

func linkOrRename(tmp, path string, force bool) error {
	if force {
		return os.Rename(tmp, path)
	}
	err := os.Link(tmp, path)
	if err == nil {
		return nil
	}
	if errors.Is(err, fs.ErrExist) {
		return existsError(path)
	}
	if _, err := os.Lstat(path); err == nil {
		return existsError(path)
	}
	return os.Rename(tmp, path)
}

func existsError(path string) error {
	return fmt.Errorf("%s: %w (use --force to replace it)", path, errdef.ErrExists)
}
