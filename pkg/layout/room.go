package layout

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"syscall"
)

// Advice for a FileSizeLimitError: what to do, by the kind of output.
const (
	// AdviceArchive is for one archive file (pack, create --output FILE.tar).
	AdviceArchive = "write it as volumes under the limit with pack --split SIZE (4G for FAT32)"
	// AdviceDir is for a bundle directory (create, pull), which holds each
	// blob whole whatever is done.
	AdviceDir = "a bundle directory holds each blob whole: write it on a disk without that limit, then pack --split SIZE (4G for FAT32) onto this medium"
)

// FileSizeLimitError is a write that passed the medium's limit on the size
// of one file (EFBIG: FAT32 holds no file of 4 GiB, a quota or
// RLIMIT_FSIZE may hold less). Path is the output as it was named, not the
// hidden temporary it was written through; errors.Is(err, syscall.EFBIG)
// holds.
type FileSizeLimitError struct {
	Path   string
	Advice string
}

func (e *FileSizeLimitError) Error() string {
	return fmt.Sprintf("%s: %v: the medium's file-size limit was hit; %s", e.Path, syscall.EFBIG, e.Advice)
}

// Unwrap returns syscall.EFBIG.
func (e *FileSizeLimitError) Unwrap() error { return syscall.EFBIG }

// FileSizeLimit returns err as a FileSizeLimitError of path when it is a
// write past the medium's file-size limit that none named yet, and any
// other err as it is.
func FileSizeLimit(path, advice string, err error) error {
	var named *FileSizeLimitError
	if err == nil || !errors.Is(err, syscall.EFBIG) || errors.As(err, &named) {
		return err
	}
	return &FileSizeLimitError{Path: path, Advice: advice}
}

// NoSpaceError is a write that found the medium full (ENOSPC). Path is the
// output as it was named, not the hidden file being made; Inodes says the
// medium ran out of files rather than bytes (the failing call made a file
// or directory), which df -h does not show. errors.Is(err,
// syscall.ENOSPC) holds.
//
// Took, when known, is how many bytes of the output the medium took before
// it was full: what one medium holds, so the SIZE to split into. Volume is
// the volume size of a pack --split that filled it (0: one archive).
//
// Dir says the output was a bundle directory (create, pull), which holds
// each blob whole: it is written on a disk with room and packed onto media.
// OnePass says it was create's one-pass archive, which pack --split cannot
// split: the bundle directory is created first, on a disk with room.
type NoSpaceError struct {
	Path    string
	Inodes  bool
	Took    int64
	Volume  int64
	Dir     bool
	OnePass bool
}

// listRoom is what a medium must keep beside a volume of pack --split: the
// volume list and its signature (a few KiB, written before the volumes)
// and the file system's own blocks. The --split SIZE advised is what the
// medium took less this, in whole MiB: a medium that took exactly 2 MiB
// holds a 1M volume and its list, not a 2M one.
const listRoom = 64 << 10

func (e *NoSpaceError) Error() string {
	const mib = 1 << 20
	took := fmt.Sprintf("%.1f MiB", float64(e.Took)/mib)
	fits := (e.Took - listRoom) / mib // the --split SIZE to advise, in MiB
	pack := "pack"
	if e.OnePass {
		pack = "create the bundle directory on a disk with room, then pack it with"
	}
	switch {
	case e.Inodes:
		return fmt.Sprintf("%s: %v: the medium has no free inodes (df -i), however much space df -h shows: a bundle directory takes a file for each blob; free some, or write it on a disk with room and pack it onto this medium as one archive", e.Path, syscall.ENOSPC)
	case e.Dir:
		return fmt.Sprintf("%s: %v: free space on the medium, or write the bundle directory on a disk with room, then pack --split SIZE onto media like this one", e.Path, syscall.ENOSPC)
	case fits < 1:
		// Under the smallest volume: no SIZE to offer.
		return fmt.Sprintf("%s: %v: free space on the medium, or %s --split SIZE onto several", e.Path, syscall.ENOSPC, pack)
	case e.Volume == 0:
		return fmt.Sprintf("%s: %v: the medium took %s of it: free space on the medium, or %s --split %dM and carry the volumes on several such media", e.Path, syscall.ENOSPC, took, pack, fits)
	case e.Volume > e.Took:
		return fmt.Sprintf("%s: %v: the medium took %s, less than one volume of --split %dM: pack --split %dM", e.Path, syscall.ENOSPC, took, e.Volume/mib, fits)
	}
	return fmt.Sprintf("%s: %v: the medium took %s of the volumes of --split %dM, not all of them: pack them onto a disk with room, then carry them across a few at a time, into one directory on the far side", e.Path, syscall.ENOSPC, took, e.Volume/mib)
}

// Unwrap returns syscall.ENOSPC.
func (e *NoSpaceError) Unwrap() error { return syscall.ENOSPC }

// OutOfRoom returns err as a FileSizeLimitError or a NoSpaceError of path
// (with advice for the first) when the medium had no room for the output
// and none named it yet, and any other err as it is.
func OutOfRoom(path, advice string, err error) error {
	var named *NoSpaceError
	if err == nil || !errors.Is(err, syscall.ENOSPC) || errors.As(err, &named) {
		return FileSizeLimit(path, advice, err)
	}
	return &NoSpaceError{Path: path, Inodes: madeFile(err), Dir: advice == AdviceDir}
}

// madeFile reports whether err failed to make a file or directory (an
// inode), rather than to write bytes into one.
func madeFile(err error) bool {
	var pe *fs.PathError
	var le *os.LinkError
	if errors.As(err, &pe) {
		return pe.Op == "open" || pe.Op == "mkdir" || pe.Op == "mkdirat" || pe.Op == "openat"
	}
	return errors.As(err, &le) && (le.Op == "link" || le.Op == "symlink")
}
