//go:build unix

package layout

import (
	"context"
	"errors"
	"io/fs"
	"os"
	"time"

	"golang.org/x/sys/unix"
)

// lockPoll is how often a writer waiting for a directory's lock tries again.
const lockPoll = 50 * time.Millisecond

// LockDir takes the writers' lock of directory dir, for a command that
// writes several files there that only make sense together (keygen's key
// pair; sign's envelope, index.json and SHA256SUMS): two stella processes
// then write them one after the other, never interleaved. The lock is an
// exclusive flock(2) of the directory itself, so nothing is left behind and
// a process that dies releases it. If another process holds it, waiting is
// called once and LockDir tries again until it gets it or ctx ends. A
// filesystem that has no locks (some network mounts), or a directory that
// cannot be opened for reading, is written unlocked, as before. The
// returned func releases the lock.
func LockDir(ctx context.Context, dir string, waiting func()) (func(), error) {
	return lockDir(ctx, dir, unix.LOCK_EX, waiting)
}

// ReadLockDir is LockDir for a reader of several files of dir that only
// make sense together (pack reading a bundle directory): any number of
// readers hold it at once, and a writer waits for them, as they for it.
func ReadLockDir(ctx context.Context, dir string, waiting func()) (func(), error) {
	return lockDir(ctx, dir, unix.LOCK_SH, waiting)
}

func lockDir(ctx context.Context, dir string, how int, waiting func()) (func(), error) {
	f, err := os.Open(dir)
	if errors.Is(err, fs.ErrPermission) {
		// A directory one may write but not list: no lock to take.
		return func() {}, nil
	}
	if err != nil {
		return nil, err
	}
	for {
		err := flockNB(f, how)
		if !errors.Is(err, unix.EWOULDBLOCK) {
			if err != nil {
				// ENOLCK, EOPNOTSUPP: no locks here.
				f.Close()
				return func() {}, nil
			}
			return func() { f.Close() }, nil
		}
		if waiting != nil {
			waiting()
			waiting = nil
		}
		select {
		case <-ctx.Done():
			f.Close()
			return nil, ctx.Err()
		case <-time.After(lockPoll):
		}
	}
}

// tryLock takes an exclusive lock (flock) on the file or directory at
// path, without waiting: held until f is closed or the process ends,
// however it ends. ok is false when another process holds it.
func tryLock(path string) (f *os.File, ok bool, err error) {
	f, err = os.Open(path)
	if err != nil {
		return nil, false, err
	}
	switch err = flockNB(f, unix.LOCK_EX); {
	case err == nil:
		return f, true, nil
	case errors.Is(err, unix.EWOULDBLOCK):
		f.Close()
		return nil, false, nil
	}
	f.Close()
	return nil, false, &os.PathError{Op: "flock", Path: path, Err: err}
}

// holdLock locks f, a temporary file this process has just created, for
// as long as it is open (tryLock then fails elsewhere), and reports whether
// f still has its name: another write's RemoveStaleOutput may have removed
// it before the lock was taken (it holds the lock only to remove). A
// filesystem without locks takes none.
func holdLock(f *os.File) bool {
	for {
		if err := unix.Flock(int(f.Fd()), unix.LOCK_EX); !errors.Is(err, unix.EINTR) {
			break
		}
	}
	var st unix.Stat_t
	return unix.Fstat(int(f.Fd()), &st) != nil || st.Nlink > 0
}

// flockNB takes a lock without waiting, again if interrupted.
func flockNB(f *os.File, how int) error {
	for {
		if err := unix.Flock(int(f.Fd()), how|unix.LOCK_NB); !errors.Is(err, unix.EINTR) {
			return err
		}
	}
}

// ProcessAlive reports whether a process with that id runs on this
// machine (a temporary file named after it may be a live write's).
func ProcessAlive(pid int) bool {
	err := unix.Kill(pid, 0)
	return err == nil || errors.Is(err, unix.EPERM)
}
