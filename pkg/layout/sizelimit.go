package layout

import (
	"errors"
	"fmt"
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
