package layout

import (
	"io/fs"
	"path/filepath"
)

// Allocated returns the bytes the medium holds of paths, files or
// directory trees: here the sum of their files' sizes, NTFS allocating
// what a file skips over unless it is marked sparse, which ours never
// are. What cannot be read counts nothing.
func Allocated(paths ...string) int64 {
	var n int64
	for _, path := range paths {
		_ = filepath.WalkDir(path, func(_ string, d fs.DirEntry, err error) error {
			if err != nil {
				return nil
			}
			if info, err := d.Info(); err == nil && info.Mode().IsRegular() {
				n += info.Size()
			}
			return nil
		})
	}
	return n
}
