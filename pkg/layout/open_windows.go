package layout

import (
	"io/fs"
	"os"
	"path/filepath"
	"syscall"
)

// openNoFollow opens path read-only, refusing a symlink or junction in its
// last element with ELOOP as the Unix open does. Windows has no O_NOFOLLOW,
// so the link is looked for before the open; openRegular's Stat of the open
// file still refuses anything but a regular file.
func openNoFollow(path string) (*os.File, error) {
	st, err := os.Lstat(path)
	if err != nil {
		return nil, err
	}
	if st.Mode()&(os.ModeSymlink|os.ModeIrregular) != 0 {
		return nil, &os.PathError{Op: "open", Path: path, Err: syscall.ELOOP}
	}
	return os.Open(path)
}

// openNonBlocking opens path read-only, following a symlink (the path is
// the user's). A named pipe does not block the open of a path on Windows;
// OpenArchive's Stat refuses it.
func openNonBlocking(path string) (*os.File, error) { return os.Open(path) }

// dirFD is a directory of a bundle on Windows: its path, checked once when
// first used not to be a symlink or junction. Windows has no openat; a
// directory swapped for a link after the check is not seen (the check of a
// file's last element has the same window).
type dirFD struct{ path string }

func openRootDir(path string) (dirFD, error) {
	st, err := os.Stat(path)
	if err != nil {
		return dirFD{}, err
	}
	if !st.IsDir() {
		return dirFD{}, &os.PathError{Op: "open", Path: path, Err: syscall.ENOTDIR}
	}
	return dirFD{path}, nil
}

func openDirAt(parent dirFD, path, name string) (dirFD, error) {
	p := filepath.Join(parent.path, name)
	st, err := os.Lstat(p)
	switch {
	case err != nil:
		return dirFD{}, err
	case st.Mode()&(os.ModeSymlink|os.ModeIrregular) != 0:
		return dirFD{}, &os.PathError{Op: "open", Path: path, Err: syscall.ELOOP}
	case !st.IsDir():
		return dirFD{}, &os.PathError{Op: "open", Path: path, Err: syscall.ENOTDIR}
	}
	return dirFD{p}, nil
}

func closeDir(dirFD) {}

func openFileAt(parent dirFD, path, name string) (*os.File, error) {
	return openNoFollow(filepath.Join(parent.path, name))
}

func lstatAt(parent dirFD, path, name string) (bool, int64, error) {
	st, err := os.Lstat(filepath.Join(parent.path, name))
	if err != nil {
		return false, 0, err
	}
	return st.Mode().IsRegular(), st.Size(), nil
}

func readDir(d dirFD) ([]fs.DirEntry, error) { return os.ReadDir(d.path) }

func readDirEach(d dirFD, fn func(fs.DirEntry) error) error {
	f, err := os.Open(d.path)
	if err != nil {
		return err
	}
	defer f.Close()
	return readDirEntries(f, fn)
}
