//go:build unix

package layout

import (
	"io/fs"
	"os"
	"runtime"
	"syscall"

	"golang.org/x/sys/unix"
)

// openNoFollow opens path read-only, refusing a symlink in its last element
// (O_NOFOLLOW fails with ELOOP). O_NONBLOCK keeps a named pipe planted in a
// bundle from blocking the open until a writer comes (never); it changes
// nothing for a regular file.
func openNoFollow(path string) (*os.File, error) {
	return os.OpenFile(path, os.O_RDONLY|syscall.O_NOFOLLOW|syscall.O_NONBLOCK, 0)
}

// openNonBlocking opens path read-only, following a symlink (the path is
// the user's), without blocking on a named pipe, as openNoFollow does.
func openNonBlocking(path string) (*os.File, error) {
	return os.OpenFile(path, os.O_RDONLY|syscall.O_NONBLOCK, 0)
}

// dirFD is an open directory of a bundle: its descriptor, and the File that
// owns it (and closes it when the Dir is dropped).
type dirFD struct {
	f  *os.File
	fd int
}

// openRootDir opens a bundle's root directory. Its path is the user's: a
// symlink in it is followed.
func openRootDir(path string) (dirFD, error) {
	f, err := os.Open(path)
	if err != nil {
		return dirFD{}, err
	}
	return dirFD{f, int(f.Fd())}, nil
}

// openDirAt opens the directory name of parent, failing with ELOOP if it
// is a symlink and ENOTDIR if it is not a directory.
func openDirAt(parent dirFD, path, name string) (dirFD, error) {
	fd, err := ignoringEINTR(func() (int, error) {
		return unix.Openat(parent.fd, name, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
	})
	if err == syscall.ELOOP || err == syscall.ENOTDIR {
		// Systems differ in which of the two a symlink gets with
		// O_DIRECTORY|O_NOFOLLOW; tell them apart.
		var st unix.Stat_t
		if unix.Fstatat(parent.fd, name, &st, unix.AT_SYMLINK_NOFOLLOW) == nil && st.Mode&unix.S_IFMT == unix.S_IFLNK {
			err = syscall.ELOOP
		} else {
			err = syscall.ENOTDIR
		}
	}
	runtime.KeepAlive(parent.f)
	if err != nil {
		return dirFD{}, &os.PathError{Op: "open", Path: path, Err: err}
	}
	return dirFD{os.NewFile(uintptr(fd), path), fd}, nil
}

func closeDir(d dirFD) { d.f.Close() }

// openFileAt opens the file name of parent read-only, refusing a symlink
// (ELOOP) and not blocking on a named pipe, as openNoFollow does.
func openFileAt(parent dirFD, path, name string) (*os.File, error) {
	fd, err := ignoringEINTR(func() (int, error) {
		return unix.Openat(parent.fd, name, unix.O_RDONLY|unix.O_NOFOLLOW|unix.O_NONBLOCK|unix.O_CLOEXEC, 0)
	})
	runtime.KeepAlive(parent.f)
	if err != nil {
		return nil, &os.PathError{Op: "open", Path: path, Err: err}
	}
	return os.NewFile(uintptr(fd), path), nil
}

// lstatAt reports whether the file name of parent is a regular file (not
// a symlink) and its size.
func lstatAt(parent dirFD, path, name string) (bool, int64, error) {
	var st unix.Stat_t
	_, err := ignoringEINTR(func() (int, error) {
		return 0, unix.Fstatat(parent.fd, name, &st, unix.AT_SYMLINK_NOFOLLOW)
	})
	runtime.KeepAlive(parent.f)
	if err != nil {
		return false, 0, &os.PathError{Op: "lstat", Path: path, Err: err}
	}
	return st.Mode&unix.S_IFMT == unix.S_IFREG, st.Size, nil
}

func ignoringEINTR(fn func() (int, error)) (int, error) {
	for {
		n, err := fn()
		if err != syscall.EINTR {
			return n, err
		}
	}
}

func readDir(d dirFD) ([]fs.DirEntry, error) { return d.f.ReadDir(-1) }

func readDirEach(d dirFD, fn func(fs.DirEntry) error) error { return readDirEntries(d.f, fn) }
