package layout

import (
	"context"
	"os"
)

// LockDir takes the writers' lock of directory dir (see lock_unix.go). On
// Windows it takes none: two stella processes writing one directory at once
// are not kept apart there.
func LockDir(ctx context.Context, dir string, waiting func()) (func(), error) {
	return func() {}, nil
}

// ReadLockDir is LockDir for a reader (see lock_unix.go); on Windows it
// takes none.
func ReadLockDir(ctx context.Context, dir string, waiting func()) (func(), error) {
	return func() {}, nil
}

// tryLock takes no lock on Windows: ok is always false, so no temporary
// of another run is ever removed as abandoned there.
func tryLock(path string) (f *os.File, ok bool, err error) { return nil, false, nil }

// holdLock takes no lock on Windows.
func holdLock(f *os.File) bool { return true }

// ProcessAlive says yes on Windows: a temporary named after a process is
// never taken for an abandoned one there.
func ProcessAlive(pid int) bool { return true }
