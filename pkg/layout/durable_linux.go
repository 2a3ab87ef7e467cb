package layout

import (
	"os"

	"golang.org/x/sys/unix"
)

// syncTree makes everything under root durable with one syncfs(2) of its
// filesystem: one call however many files, where an fsync each would cost
// a disk flush per blob.
func syncTree(root string) error {
	f, err := os.Open(root)
	if err != nil {
		return err
	}
	defer f.Close()
	rc, err := f.SyscallConn()
	if err != nil {
		return err
	}
	var serr error
	if err := rc.Control(func(fd uintptr) { serr = unix.Syncfs(int(fd)) }); err != nil {
		return err
	}
	if serr != nil {
		return &os.PathError{Op: "syncfs", Path: root, Err: serr}
	}
	return nil
}

// CanSyncFilesystem says SyncFilesystems makes a whole filesystem durable.
const CanSyncFilesystem = true

// syncFilesystems syncs, once each, the filesystems holding dirs.
func syncFilesystems(dirs []string) error {
	synced := map[uint64]bool{}
	for _, dir := range dirs {
		var st unix.Stat_t
		if err := unix.Stat(dir, &st); err != nil {
			return &os.PathError{Op: "stat", Path: dir, Err: err}
		}
		if synced[st.Dev] {
			continue
		}
		if err := syncTree(dir); err != nil {
			return err
		}
		synced[st.Dev] = true
	}
	return nil
}
