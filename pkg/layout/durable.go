package layout

import (
	"os"
	"path/filepath"

	"github.com/opencontainers/go-digest"
)

// Durability: an output takes its name by a rename, so that a reader sees
// the old content or the new, never a part; and it is on disk before it
// takes its name, and its name is on disk before the command says it is
// done, so that a power cut after "done" leaves neither an empty file
// under the final name (the rename reached the disk, the data did not)
// nor the old file (the directory entry did not).

// RenameDurable renames tmp, already synced, to final and syncs final's
// directory.
func RenameDurable(tmp, final string) error {
	if err := os.Rename(tmp, final); err != nil {
		return err
	}
	return SyncDir(filepath.Dir(final))
}

// SyncBlobs makes the blobs dgs of the directory durable, their data and
// their names: a few written into a bundle that some file about to be
// written names (sign's, before index.json).
func (d *Dir) SyncBlobs(dgs ...digest.Digest) error {
	for _, dg := range dgs {
		f, err := d.openFile(BlobName(dg))
		if err != nil {
			return err
		}
		err = f.Sync()
		f.Close()
		if err != nil {
			return err
		}
	}
	return SyncDir(filepath.Join(d.root, BlobsDir, "sha256"))
}

// SyncAll makes everything written under the directory durable: its files'
// data and its entries.
func (d *Dir) SyncAll() error { return syncTree(d.root) }

// SyncFilesystems makes everything written on the filesystems holding
// dirs durable, one syncfs(2) each, where CanSyncFilesystem; elsewhere it
// does nothing, and each file must be synced itself. One call in place of
// a sync per file is what makes thousands of small files (an advisory
// feed) durable in the time of one. Each filesystem is synced once; a
// subdirectory may be a mount of its own (an NFS share, a volume mounted
// into a container), which a sync of its parent's filesystem does not
// reach.
func SyncFilesystems(dirs []string) error {
	if !CanSyncFilesystem {
		return nil
	}
	return syncFilesystems(dirs)
}
