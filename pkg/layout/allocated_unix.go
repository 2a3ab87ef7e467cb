//go:build unix

package layout

import (
	"io/fs"
	"path/filepath"
	"syscall"
)

// Allocated returns the bytes the medium holds of paths, files or
// directory trees: their blocks, not their sizes, which would count the
// holes of a sparse file (create's one-pass archive leaves room for its
// large blobs as holes, filled as they arrive), and a file linked under
// several names once (a bundle's docs/ are links to its blobs). What
// cannot be read counts nothing.
func Allocated(paths ...string) int64 {
	type inode struct{ dev, ino uint64 }
	seen := map[inode]bool{}
	var n int64
	for _, path := range paths {
		_ = filepath.WalkDir(path, func(_ string, d fs.DirEntry, err error) error {
			if err != nil {
				return nil
			}
			info, err := d.Info()
			if err != nil {
				return nil
			}
			if st, ok := info.Sys().(*syscall.Stat_t); ok && !seen[inode{uint64(st.Dev), uint64(st.Ino)}] {
				seen[inode{uint64(st.Dev), uint64(st.Ino)}] = true
				n += int64(st.Blocks) * 512 // st_blocks counts 512-byte units, whatever the block size
			}
			return nil
		})
	}
	return n
}
