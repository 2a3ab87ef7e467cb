//go:build !linux

package layout

import "os"

// StartWriteback does nothing here: the final fsync writes everything.
func StartWriteback(f *os.File, off, n int64) {}
