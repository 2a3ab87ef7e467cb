//go:build unix

package layout

import (
	"os"
	"syscall"
)

// openNoFollow opens path read-only, refusing a symlink in its last element
// (O_NOFOLLOW fails with ELOOP). O_NONBLOCK keeps a named pipe planted in a
// bundle from blocking the open until a writer comes (never); it changes
// nothing for a regular file.
func openNoFollow(path string) (*os.File, error) {
	return os.OpenFile(path, os.O_RDONLY|syscall.O_NOFOLLOW|syscall.O_NONBLOCK, 0)
}
