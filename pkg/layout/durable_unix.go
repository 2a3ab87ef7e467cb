//go:build unix

package layout

import "os"

// SyncDir makes the entries of directory dir durable (a file renamed or
// linked into it keeps its name through a power cut).
func SyncDir(dir string) error {
	f, err := os.Open(dir)
	if err != nil {
		return err
	}
	err = f.Sync()
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}
