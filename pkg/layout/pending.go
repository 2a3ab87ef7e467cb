package layout

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
)

// pendingSuffix ends the hidden record of a volume set being placed:
// bundle.tar's is .bundle.tar.volumes.pending, beside its volumes.
const pendingSuffix = ".volumes.pending"

// pendingPath is the record of the volume set of the archive out.
func pendingPath(out string) string {
	return filepath.Join(filepath.Dir(out), "."+filepath.Base(out)+pendingSuffix)
}

// MarkPending records list, the volume list of a set about to take its
// names beside out, in a hidden file (.OUT.volumes.pending) before the
// first volume does. A pack stopped before the list itself takes its name
// (killed, a power cut) leaves the record beside the volumes it placed:
// UnfinishedVolumes reads it to tell them from anyone else's.
func MarkPending(out string, list []byte) error {
	return WriteFileAtomic(pendingPath(out), list, 0o644)
}

// ClearPending removes the record once the list has its name: the set is
// whole, and replacing it takes --force again.
func ClearPending(out string) error {
	if err := os.Remove(pendingPath(out)); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	return nil
}

// VolumeInTheWay names the first volume beside out that is not ours to
// replace without --force, or returns "": of the names a set of n volumes
// takes (out.000 to its last) and those after them that Commit removes
// (up to the first missing), each that exists must be a volume of a set
// whose placing was stopped before its list took its name. That is: there
// is no list, there is the record MarkPending wrote, and the volume is one
// it names, a regular file of its size and, with hash, of its digest
// (which reads it). Anything else (no record, one that does not parse, a
// volume it does not name or that differs, a file past a gap) may be
// another's. n is the set's number of volumes; 1 when not yet known.
func VolumeInTheWay(out string, n int, hash bool) string {
	list := out + VolumesSuffix
	var vs *VolumeSet
	if _, err := os.Lstat(list); errors.Is(err, fs.ErrNotExist) {
		if data, err := readSmallFile(pendingPath(out)); err == nil {
			// Parsed as the list it would have become: its name, every
			// volume's name, size and digest checked as import would.
			vs, _ = ParseVolumeSet(list, data)
		}
	}
	ours := func(i int, st fs.FileInfo) bool {
		if vs == nil || i >= len(vs.Volumes) || !st.Mode().IsRegular() || st.Size() != vs.Volumes[i].Size {
			return false
		}
		return !hash || vs.Check(vs.Volumes[i]) == nil
	}
	for i := 0; ; i++ {
		p := VolumeName(out, i)
		st, err := os.Lstat(p)
		switch {
		case errors.Is(err, fs.ErrNotExist) && i >= n:
			return ""
		case errors.Is(err, fs.ErrNotExist):
		case err != nil || !ours(i, st):
			return p
		}
	}
}
