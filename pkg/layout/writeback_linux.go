package layout

import (
	"os"

	"golang.org/x/sys/unix"
)

// StartWriteback asks the kernel to start writing the bytes [off, off+n)
// of f to disk, without waiting for them. It is advice: errors are the
// final fsync's to report.
func StartWriteback(f *os.File, off, n int64) {
	if n <= 0 {
		return
	}
	rc, err := f.SyscallConn()
	if err != nil {
		return
	}
	_ = rc.Control(func(fd uintptr) {
		_ = unix.SyncFileRange(int(fd), off, n, unix.SYNC_FILE_RANGE_WRITE)
	})
}
