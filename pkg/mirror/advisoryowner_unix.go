//go:build unix

package mirror

import (
	"fmt"
	"io/fs"
	"os"
	"syscall"
)

// fileID is the inode of the file st describes: a record names the very
// files an import wrote, not only their names and bytes.
func fileID(st fs.FileInfo) uint64 {
	if s, ok := st.Sys().(*syscall.Stat_t); ok {
		return uint64(s.Ino)
	}
	return 0
}

// foreignRecord says why the record st describes may have been written by
// someone other than the user running this import (owned by another user,
// or writable by group or others), or "" if it cannot have been: what the
// record names is removed, so only a record this user alone could write
// is taken as stella's.
func foreignRecord(st fs.FileInfo) string {
	s, ok := st.Sys().(*syscall.Stat_t)
	if !ok {
		return "its owner is unknown"
	}
	if uid := os.Geteuid(); int64(s.Uid) != int64(uid) {
		return fmt.Sprintf("owned by uid %d, not by this user (uid %d)", s.Uid, uid)
	}
	if st.Mode().Perm()&0o022 != 0 {
		return fmt.Sprintf("writable by group or others (mode %v)", st.Mode().Perm())
	}
	return ""
}
