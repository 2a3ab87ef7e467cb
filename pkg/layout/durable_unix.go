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

// tryLockDir takes an exclusive advisory lock (flock) on directory dir,
// without waiting: held until f is closed or the process ends, however it
// ends. ok is false when another process holds it.
func tryLockDir(dir string) (f *os.File, ok bool, err error) {
	f, err = os.Open(dir)
	if err != nil {
		return nil, false, err
	}
	for {
		err = unix.Flock(int(f.Fd()), unix.LOCK_EX|unix.LOCK_NB)
		if err != unix.EINTR {
			break
		}
	}
	switch err {
	case nil:
		return f, true, nil
	case unix.EWOULDBLOCK:
		f.Close()
		return nil, false, nil
	}
	f.Close()
	return nil, false, &os.PathError{Op: "flock", Path: dir, Err: err}
}
