package layout

import (
	"os"
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
