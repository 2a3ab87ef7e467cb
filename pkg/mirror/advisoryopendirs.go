package mirror

import (
	"errors"
	"io/fs"
	"os"
	"path"

	digest "github.com/opencontainers/go-digest"
)

// maxOpenAdvisoryDirs bounds how many directories under the advisories
// directory an import keeps open, a descriptor each: the least recently
// used one not in use is closed for a new one.
const maxOpenAdvisoryDirs = 64

// keptDir is a directory openDir keeps open; refs counts the file
// operations using it now, used when it was last given.
type keptDir struct {
	r         *os.Root
	refs      int
	used      uint64
	forgotten bool
}

// at gives the directory holding name (slash-separated, under the root),
// as openDir keeps it, and name's last part; done is called once the file
// operation on it returns. Each file operation on an advisory is then one
// system call on that directory, where through the root it opened every
// directory on the way again (16 openat an advisory two directories down).
// A name at the top, or whose directory cannot be opened, is the root and
// name.
func (a *advisoryWriter) at(name string) (r *os.Root, base string, done func()) {
	d, err := a.openDir(path.Dir(name), false)
	if err != nil || d == nil {
		return a.root, name, func() {}
	}
	return d.r, path.Base(name), func() { a.release(d) }
}

// openDir gives dir (slash-separated, under the root, not "."), opened
// through the root the first time it is asked (made first if mk and it is
// not there) and kept open, in use until release: opened through the root,
// it is as confined as the root, a symlink on its path followed only where
// it stays inside the root.
func (a *advisoryWriter) openDir(dir string, mk bool) (*keptDir, error) {
	if dir == "." {
		return nil, nil
	}
	a.dirsMu.Lock()
	defer a.dirsMu.Unlock()
	a.dirsUsed++
	if d, ok := a.dirs[dir]; ok {
		d.refs++
		d.used = a.dirsUsed
		return d, nil
	}
	r, err := a.root.OpenRoot(dir)
	if mk && errors.Is(err, fs.ErrNotExist) {
		if err := a.root.MkdirAll(dir, 0o755); err != nil {
			return nil, err
		}
		r, err = a.root.OpenRoot(dir)
	}
	if err != nil {
		return nil, err
	}
	d := &keptDir{r: r, refs: 1, used: a.dirsUsed}
	if len(a.dirs) >= maxOpenAdvisoryDirs && !a.closeLeastUsed() {
		d.forgotten = true // all in use: closed once this one is done
		return d, nil
	}
	if a.dirs == nil {
		a.dirs = map[string]*keptDir{}
	}
	a.dirs[dir] = d
	return d, nil
}

// closeLeastUsed closes the least recently given directory not in use,
// reporting whether there was one. dirsMu is held.
func (a *advisoryWriter) closeLeastUsed() bool {
	var least string
	for dir, d := range a.dirs {
		if d.refs == 0 && (least == "" || d.used < a.dirs[least].used) {
			least = dir
		}
	}
	if least == "" {
		return false
	}
	a.dirs[least].r.Close()
	delete(a.dirs, least)
	return true
}

// release ends a file operation's use of d.
func (a *advisoryWriter) release(d *keptDir) {
	a.dirsMu.Lock()
	defer a.dirsMu.Unlock()
	d.refs--
	if d.refs == 0 && d.forgotten {
		d.r.Close()
	}
}

// forget stops openDir giving dir's descriptor, once dir was removed (by
// this import withdrawing its last advisory, or by another import): a file
// made in it now is made in its new self. It is closed once not in use.
func (a *advisoryWriter) forget(dir string) {
	a.dirsMu.Lock()
	defer a.dirsMu.Unlock()
	if d, ok := a.dirs[dir]; ok {
		delete(a.dirs, dir)
		d.forgotten = true
		if d.refs == 0 {
			d.r.Close()
		}
	}
}

// recheckDirs forgets each kept directory no longer at its path under the
// root (moved or removed since it was opened): through it, a rename would
// place an advisory outside the advisories directory, or in one no longer
// there. One walk a kept directory, once an import, before its renames;
// a directory moved after that is the import's race with a hand.
func (a *advisoryWriter) recheckDirs() {
	a.dirsMu.Lock()
	var moved []string
	for dir, d := range a.dirs {
		held, err := d.r.Stat(".")
		now, nerr := a.root.Stat(dir)
		if err != nil || nerr != nil || !os.SameFile(held, now) {
			moved = append(moved, dir)
		}
	}
	a.dirsMu.Unlock()
	for _, dir := range moved {
		a.forget(dir)
	}
}

// Close closes the root and every directory openDir keeps open.
func (a *advisoryWriter) Close() error {
	a.dirsMu.Lock()
	defer a.dirsMu.Unlock()
	for _, d := range a.dirs {
		d.r.Close()
	}
	a.dirs = nil
	return a.root.Close()
}

// lstat, openFile, remove, rename and holds are the root's, through at;
// an error names the file by its path under the root, as the root's did.
func (a *advisoryWriter) lstat(name string) (fs.FileInfo, error) {
	r, base, done := a.at(name)
	defer done()
	st, err := r.Lstat(base)
	return st, pathNamed(err, name)
}

func (a *advisoryWriter) openFile(name string, flag int, perm fs.FileMode) (*os.File, error) {
	r, base, done := a.at(name)
	defer done()
	f, err := r.OpenFile(base, flag, perm)
	return f, pathNamed(err, name)
}

func (a *advisoryWriter) remove(name string) error {
	r, base, done := a.at(name)
	defer done()
	return pathNamed(r.Remove(base), name)
}

// rename renames oldName to newName in the same directory.
func (a *advisoryWriter) rename(oldName, newName string) error {
	if path.Dir(oldName) != path.Dir(newName) {
		return a.root.Rename(oldName, newName)
	}
	r, base, done := a.at(oldName)
	defer done()
	err := r.Rename(base, path.Base(newName))
	if le, ok := errors.AsType[*os.LinkError](err); ok {
		le.Old, le.New = oldName, newName
	}
	return err
}

// holds reports whether name (of Lstat st) is a regular file of size bytes
// with digest d.
func (a *advisoryWriter) holds(name string, st fs.FileInfo, d digest.Digest, size int64) (bool, error) {
	r, base, done := a.at(name)
	defer done()
	same, err := holdsIn(r, base, st, d, size)
	return same, pathNamed(err, name)
}

// pathNamed is err with the path it names set to name.
func pathNamed(err error, name string) error {
	if pe, ok := errors.AsType[*fs.PathError](err); ok {
		pe.Path = name
	}
	return err
}
