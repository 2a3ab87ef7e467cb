//go:build unix

package mirror

import (
	"fmt"
	"os"
	"syscall"
)

// fileOwner is the user and group owning a file; known is false when
// there was no file (or no owner to read).
type fileOwner struct {
	uid, gid int
	known    bool
}

// ownerOf returns who owns the file at path.
func ownerOf(path string) fileOwner {
	st, err := os.Stat(path)
	if err != nil {
		return fileOwner{}
	}
	s, ok := st.Sys().(*syscall.Stat_t)
	if !ok {
		return fileOwner{}
	}
	return fileOwner{uid: int(s.Uid), gid: int(s.Gid), known: true}
}

// keepOwner gives the config.json just saved at path back to the owner it
// had before, was. The store writes a new file and renames it into place,
// so one saved by root (sudo keeping HOME, a provisioning script with
// --registry-config) would be root's, mode 0600: its user's docker and
// stella could no longer read their credentials. docker login keeps the
// owner so too.
//
// The directory is that user's, who may put anything at path between the
// rename and the chown: a symlink to /etc/shadow, or a hard link to it. So
// the file is opened without following a symlink, and given back only if
// it is a regular file of one link that this process owns (the one it
// wrote), by its descriptor.
func keepOwner(path string, was fileOwner) error {
	if !was.known || was.uid == os.Geteuid() && was.gid == os.Getegid() {
		return nil
	}
	f, err := os.OpenFile(path, os.O_RDONLY|syscall.O_NOFOLLOW|syscall.O_NONBLOCK, 0)
	if err != nil {
		return notGivenBack(path, was, err)
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return notGivenBack(path, was, err)
	}
	s, ok := st.Sys().(*syscall.Stat_t)
	switch {
	case !ok:
		return nil
	case int(s.Uid) == was.uid && int(s.Gid) == was.gid:
		return nil
	case !st.Mode().IsRegular() || s.Nlink != 1 || int(s.Uid) != os.Geteuid():
		return notGivenBack(path, was, fmt.Errorf("it is no longer the file login wrote (replaced since, by its directory's owner?)"))
	}
	if err := f.Chown(was.uid, was.gid); err != nil {
		return notGivenBack(path, was, err)
	}
	return nil
}

// notGivenBack says the config at path was saved but not given back to
// its owner, was, and why.
func notGivenBack(path string, was fileOwner, err error) error {
	return fmt.Errorf("%s: saved, but not given back to its owner (uid %d, gid %d), who may no longer read it: %w", path, was.uid, was.gid, err)
}
