package layout

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"

	"github.com/stellaops/mirror/pkg/bundle"
	"github.com/stellaops/mirror/pkg/errdef"
)

// Open opens a file of the bundle directory for streaming (a file of the
// human view: advisories/…, scripts/…, docs/…): a clean relative path,
// a regular file, reached through no symlink. Unlike ReadFile it sets no
// size bound; the caller verifies what it reads.
func (d *Dir) Open(name string) (io.ReadCloser, error) {
	if err := bundle.ValidPath(name); err != nil {
		return nil, fmt.Errorf("%v: %w", err, errdef.ErrMalformed)
	}
	return d.openFile(name)
}

// A bundle directory holds no symlinks (DESIGN: a bundle is hostile input),
// and O_NOFOLLOW refuses one only in a path's last element: a symlinked
// blobs/sha256, advisories/ or scripts/ would be followed out of the
// bundle. So the files of a Dir are opened relative to handles of their
// directories, each opened from its parent without following a symlink
// (openDirAt), down from the bundle's root (whose own path is the user's
// and may go through symlinks). The root, blobs/ and blobs/sha256, and the
// first maxCachedDirs other directories used, are kept for the Dir's
// lifetime, so opening a blob costs one open relative to blobs/sha256, as
// opening it by path did. A directory of the bundle replaced by another
// while the Dir is in use is not seen; nothing of this program does that.
type dirCache struct {
	mu sync.RWMutex
	m  map[string]dirFD // by slash-separated path in the bundle, "" the root
	n  int              // handles in m besides the pinned ones
	// closed: Close released the handles; a later use opens and closes
	// its own.
	closed bool
}

// Close releases the directory handles the Dir keeps (up to
// maxCachedDirs+3 descriptors). They were otherwise released only when the
// Dir was collected: a process running one operation after another (a
// library user, the tests) held each one's until a collection came, and a
// process that makes little garbage ran out of descriptors. A Dir used
// after Close still works, opening each directory for the use. It does
// not close files the Dir opened and returned.
func (d *Dir) Close() error {
	d.dirs.mu.Lock()
	defer d.dirs.mu.Unlock()
	for _, h := range d.dirs.m {
		closeDir(h)
	}
	d.dirs.m, d.dirs.n, d.dirs.closed = nil, 0, true
	return nil
}

// maxCachedDirs bounds the directory handles a Dir keeps besides the
// root, blobs/ and blobs/sha256: one descriptor each. An advisory feed may
// spread its files over thousands of directories (one a package, or an
// advisory), and a process may hold only 1024 descriptors (ulimit -n); a
// directory past the bound is opened from its nearest kept ancestor for
// each use and closed after it.
const maxCachedDirs = 64

// pinnedDir reports whether rel is kept whatever maxCachedDirs: the
// directories every blob is opened through.
func pinnedDir(rel string) bool {
	return rel == "" || rel == BlobsDir || rel == BlobsDir+"/sha256"
}

// noClose is the release of a kept directory handle.
func noClose() {}

// dir returns the handle of the bundle's directory rel ("" for the root),
// opening it and its parents the first time, and the function to call
// once the handle is no longer used (it closes a handle that is not kept).
func (d *Dir) dir(rel string) (dirFD, func(), error) {
	d.dirs.mu.RLock()
	h, ok := d.dirs.m[rel]
	d.dirs.mu.RUnlock()
	if ok {
		return h, noClose, nil
	}
	var err error
	if rel == "" {
		h, err = openRootDir(d.root)
	} else {
		parent, base := "", rel
		if i := strings.LastIndexByte(rel, '/'); i >= 0 {
			parent, base = rel[:i], rel[i+1:]
		}
		p, done, perr := d.dir(parent)
		if perr != nil {
			return h, noClose, perr
		}
		h, err = openDirAt(p, d.path(rel), base)
		done()
	}
	if err != nil {
		return h, noClose, d.openError(rel, err)
	}
	d.dirs.mu.Lock()
	defer d.dirs.mu.Unlock()
	if have, ok := d.dirs.m[rel]; ok {
		closeDir(h) // another open won the race
		return have, noClose, nil
	}
	pinned := pinnedDir(rel)
	if d.dirs.closed || (!pinned && d.dirs.n >= maxCachedDirs) {
		return h, func() { closeDir(h) }, nil
	}
	if d.dirs.m == nil {
		d.dirs.m = map[string]dirFD{}
	}
	d.dirs.m[rel] = h
	if !pinned {
		d.dirs.n++
	}
	return h, noClose, nil
}

// split returns the directory handle and base name of the bundle file
// name (slash-separated, relative, clean), and the function to call once
// the handle is no longer used.
func (d *Dir) split(name string) (dirFD, string, func(), error) {
	parent, base := "", name
	if i := strings.LastIndexByte(name, '/'); i >= 0 {
		parent, base = name[:i], name[i+1:]
	}
	h, done, err := d.dir(parent)
	if err != nil {
		if errors.Is(err, errdef.ErrNotFound) {
			// Name the file asked for, not the directory lacking.
			return h, "", noClose, fmt.Errorf("%s: %w", d.path(name), errdef.ErrNotFound)
		}
		return h, "", noClose, err
	}
	return h, base, done, nil
}

// openFile opens the regular file name of the bundle (slash-separated,
// relative, clean), through no symlink at any level.
func (d *Dir) openFile(name string) (*os.File, error) {
	f, _, err := d.openFileStat(name)
	return f, err
}

// openFileStat is openFile, also returning the file's FileInfo (which it
// reads anyway, to check it is a regular file).
func (d *Dir) openFileStat(name string) (*os.File, fs.FileInfo, error) {
	h, base, done, err := d.split(name)
	if err != nil {
		return nil, nil, err
	}
	path := d.path(name)
	f, err := openFileAt(h, path, base)
	done()
	if err != nil {
		return nil, nil, d.openError(name, err)
	}
	return checkRegular(f, path)
}

// lstat returns whether the bundle file name is a regular file and its
// size, without following a symlink at any level.
func (d *Dir) lstat(name string) (regular bool, size int64, err error) {
	h, base, done, err := d.split(name)
	if err != nil {
		return false, 0, err
	}
	defer done()
	return lstatAt(h, d.path(name), base)
}

// path returns the file system path of the bundle file name.
func (d *Dir) path(name string) string {
	if name == "" {
		return d.root
	}
	return filepath.Join(d.root, filepath.FromSlash(name))
}

// openError describes a failure to open the bundle file or directory name:
// a symlink is malformed input, named by its path, as is a non-directory
// where a directory should be.
func (d *Dir) openError(name string, err error) error {
	path := d.path(name)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return fmt.Errorf("%s: %w", path, errdef.ErrNotFound)
	case errors.Is(err, syscall.ELOOP):
		return fmt.Errorf("%s: is %s: %w", path, FileKind(fs.ModeSymlink), errdef.ErrMalformed)
	case errors.Is(err, syscall.ENOTDIR):
		return fmt.Errorf("%s: not a directory: %w", path, errdef.ErrMalformed)
	}
	if denied := ReadDenied(err); denied != nil {
		return denied
	}
	return err
}

// ReadDir lists the directory name of the bundle (slash-separated,
// relative, clean), reached through no symlink at any level.
func (d *Dir) ReadDir(name string) ([]fs.DirEntry, error) {
	if err := bundle.ValidPath(name); err != nil {
		return nil, fmt.Errorf("%v: %w", err, errdef.ErrMalformed)
	}
	h, base, done, err := d.split(name)
	if err != nil {
		return nil, err
	}
	f, err := openDirAt(h, d.path(name), base)
	done()
	if err != nil {
		return nil, d.openError(name, err)
	}
	defer closeDir(f)
	return readDir(f)
}

// ReadDirEach calls fn with each entry of the directory name of the
// bundle (slash-separated, relative, clean), reached through no symlink at
// any level, in no set order, until fn returns an error, which it
// returns. The directory is read readDirBatch entries at a time, not
// whole: a hostile bundle's directory may hold millions of files.
func (d *Dir) ReadDirEach(name string, fn func(fs.DirEntry) error) error {
	if err := bundle.ValidPath(name); err != nil {
		return fmt.Errorf("%v: %w", err, errdef.ErrMalformed)
	}
	h, base, done, err := d.split(name)
	if err != nil {
		return err
	}
	f, err := openDirAt(h, d.path(name), base)
	done()
	if err != nil {
		return d.openError(name, err)
	}
	defer closeDir(f)
	return readDirEach(f, fn)
}

// readDirBatch is how many entries ReadDirEach reads at once.
const readDirBatch = 64

// readDirEntries calls fn with every entry f reads, readDirBatch at a
// time.
func readDirEntries(f *os.File, fn func(fs.DirEntry) error) error {
	for {
		batch, err := f.ReadDir(readDirBatch)
		for _, e := range batch {
			if ferr := fn(e); ferr != nil {
				return ferr
			}
		}
		if errors.Is(err, io.EOF) || (err == nil && len(batch) == 0) {
			return nil
		}
		if err != nil {
			return err
		}
	}
}

// OpenArchive opens an archive the user named (a bundle's .tar, .tar.zst,
// .tar.gz) for reading, following a symlink as for any path given. Anything
// but a regular file is refused as not an archive (errdef.ErrUsage), and
// at once: a named pipe is opened without blocking (openNonBlocking), where
// a plain open of one waits for a writer that never comes, past Ctrl-C and
// SIGTERM (the open is not a call a context can end). A file not there
// wraps errdef.ErrNotFound; one the user may not read is told as
// ReadDenied tells it.
func OpenArchive(path string) (*os.File, fs.FileInfo, error) {
	f, err := openNonBlocking(path)
	if denied := ReadDenied(err); denied != nil {
		return nil, nil, denied
	}
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil, fmt.Errorf("%s: %w", path, errdef.ErrNotFound)
	}
	if err != nil {
		return nil, nil, err
	}
	st, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, nil, err
	}
	if !st.Mode().IsRegular() {
		f.Close()
		return nil, nil, fmt.Errorf("%s: not a regular file (%s): give the archive's file itself, not a pipe or device, which cannot be read at random or twice: %w",
			path, FileKind(st.Mode()), errdef.ErrUsage)
	}
	return f, st, nil
}

// OpenRegular opens a file that lies beside what the user named (the
// manifest.json beside an envelope, the signature beside a volume list),
// following a symlink, refusing at once anything but a regular file as
// malformed: a named pipe planted on the media is opened without blocking.
// A file not there is fs.ErrNotExist, as os.Open says it.
func OpenRegular(path string) (*os.File, error) {
	f, err := openNonBlocking(path)
	if err != nil {
		return nil, err
	}
	f, _, err = checkRegular(f, path)
	return f, err
}

// FileKind names what a non-regular file of mode m is ("a directory", "a
// symbolic link", "a named pipe", …), for an operator who gave one or
// whose bundle holds one.
func FileKind(m fs.FileMode) string {
	switch {
	case m&fs.ModeSymlink != 0:
		return "a symbolic link"
	case m&fs.ModeNamedPipe != 0:
		return "a named pipe"
	case m&fs.ModeSocket != 0:
		return "a socket"
	case m&fs.ModeDevice != 0:
		return "a device"
	case m.IsDir():
		return "a directory"
	}
	return "mode " + m.String()
}
