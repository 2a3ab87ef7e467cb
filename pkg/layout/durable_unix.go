//go:build unix

package layout

import (
	"errors"
	"os"

	"golang.org/x/sys/unix"
)

// SyncDir makes the entries of directory dir durable (a file renamed or
// linked into it keeps its name through a power cut). A filesystem that
// cannot sync a directory (EINVAL, ENOTSUP: some network and FUSE ones)
// is not an error: there is nothing more to do there.
func SyncDir(dir string) error {
	f, err := os.Open(dir)
	if err != nil {
		return err
	}
	err = f.Sync()
	if errors.Is(err, unix.EINVAL) || errors.Is(err, unix.ENOTSUP) {
		err = nil
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}
