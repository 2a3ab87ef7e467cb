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
func keepOwner(path string, was fileOwner) error {
	now := ownerOf(path)
	if !was.known || !now.known || now == was {
		return nil
	}
	if err := os.Chown(path, was.uid, was.gid); err != nil {
		return fmt.Errorf("%s: saved, but not given back to its owner (uid %d, gid %d), who may no longer read it: %w", path, was.uid, was.gid, err)
	}
	return nil
}
