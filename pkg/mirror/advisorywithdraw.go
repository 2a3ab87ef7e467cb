package mirror

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"slices"
	"strings"
	"syscall"

	"github.com/opencontainers/go-digest"
)

// WithdrawnAdvisory is an advisory file that the previous import into
// --advisories-dir wrote and the bundle imported now no longer lists: its
// vendor withdrew it (a false positive) or renamed its feed file.
type WithdrawnAdvisory struct {
	// Path is the file, as DIR/x.json.
	Path string `json:"path"`
	// State is what became of it: WithdrawnRemoved, WithdrawnKept,
	// WithdrawnChanged or WithdrawnGone.
	State string `json:"state"`
}

// What became of a withdrawn advisory.
const (
	// WithdrawnRemoved: its bytes were still those stella wrote; removed.
	WithdrawnRemoved = "removed"
	// WithdrawnKept: still stella's, left by --keep-withdrawn; still
	// recorded, so a later import without it removes it (unless the record
	// is at its bound: those past it are no longer recorded, and the import
	// warns).
	WithdrawnKept = "kept"
	// WithdrawnChanged: no longer what stella wrote (edited, replaced, a
	// symlink or directory in its place or on its path): left for good,
	// and no longer recorded as stella's.
	WithdrawnChanged = "changed"
	// WithdrawnGone: no longer there (removed by hand, or by an import
	// cut short before its record was written).
	WithdrawnGone = "gone"
)

// withdraw deals with each file of the previous record that the bundle
// no longer carries: removed if its bytes are still those recorded (unless
// keep), else left and said so. It returns what became of each, the
// entries still to record (those kept), and the first removal that failed:
// the others are still done, and the record written, before it is told.
//
// placed are the files the bundle carries, as recorded: a withdrawn name
// that is one of their files (the same file under another case or
// normalization on a case-insensitive file system, as macOS and Windows
// have, or a hard link) is the release's advisory, and is left unsaid.
func (a *advisoryWriter) withdraw(prev *advisoryRecord, carried map[string]bool, placed []recordedAdvisory, keep bool) (out []WithdrawnAdvisory, still []recordedAdvisory, failed error) {
	if prev == nil {
		return nil, nil, nil
	}
	ids := map[uint64]bool{}
	folded := map[string][]string{}
	for _, p := range placed {
		if p.File != 0 {
			ids[p.File] = true
		}
		folded[strings.ToLower(p.Path)] = append(folded[strings.ToLower(p.Path)], p.Path)
	}
	// A path may have two entries: its file's, and one a cut short import
	// was renaming there (pending); the one of the file there now is used.
	var order []string
	entries := map[string][]recordedAdvisory{}
	for _, f := range append(slices.Clone(prev.Files), prev.Pending...) {
		if entries[f.Path] == nil {
			order = append(order, f.Path)
		}
		entries[f.Path] = append(entries[f.Path], f)
	}
	for _, name := range order {
		if carried[name] || a.placedUnderAnotherName(name, ids, folded[strings.ToLower(name)]) {
			continue
		}
		f := a.entryOfFile(entries[name])
		if !a.underSymlink(name) {
			// The temporaries an import killed among its renames left of
			// it: no import writes it again, to remove them.
			a.removeStale(name)
		}
		state, err := a.withdrawOne(f, keep)
		if err != nil {
			if failed == nil {
				failed = fmt.Errorf("advisory %s, withdrawn by this bundle: cannot remove it: %w", path.Join(a.dir, f.Path), err)
			}
			state = WithdrawnKept
		}
		if state == WithdrawnKept {
			still = append(still, f)
		}
		out = append(out, WithdrawnAdvisory{Path: path.Join(a.dir, f.Path), State: state})
	}
	return out, still, failed
}

// entryOfFile is, of the entries of one path, the one of the file there
// now (its inode and size, and its bytes if more than one has those); the
// first if none is.
func (a *advisoryWriter) entryOfFile(entries []recordedAdvisory) recordedAdvisory {
	if len(entries) == 1 {
		return entries[0]
	}
	st, err := a.root.Lstat(entries[0].Path)
	if err != nil {
		return entries[0]
	}
	var match []recordedAdvisory
	for _, f := range entries {
		if fileID(st) == f.File && st.Size() == f.Size {
			match = append(match, f)
		}
	}
	if len(match) > 1 {
		for _, f := range match {
			if same, err := a.holds(f.Path, st, f.Digest, f.Size); err == nil && same {
				return f
			}
		}
	}
	if len(match) > 0 {
		return match[0]
	}
	return entries[0]
}

// placedUnderAnotherName reports whether name is the file of an advisory
// the bundle carries under another name: its inode is one of ids, or it is
// the same file as one of alike (names equal to it but for case).
func (a *advisoryWriter) placedUnderAnotherName(name string, ids map[uint64]bool, alike []string) bool {
	st, err := a.root.Lstat(name)
	if err != nil {
		return false
	}
	if id := fileID(st); id != 0 && ids[id] {
		return true
	}
	for _, other := range alike {
		if ost, err := a.root.Lstat(other); err == nil && os.SameFile(st, ost) {
			return true
		}
	}
	return false
}

func (a *advisoryWriter) withdrawOne(f recordedAdvisory, keep bool) (string, error) {
	if a.underSymlink(f.Path) {
		// Not where stella wrote it: removal follows no symlink.
		return WithdrawnChanged, nil
	}
	// The file is checked, and removed, in its directory held open: a
	// directory on its path replaced meanwhile (by a symlink, or another
	// directory renamed in) cannot have the removal go elsewhere.
	parent, err := a.root.OpenRoot(path.Dir(f.Path))
	if errors.Is(err, fs.ErrNotExist) || errors.Is(err, syscall.ENOTDIR) {
		return WithdrawnGone, nil
	}
	if err != nil {
		return "", err
	}
	defer parent.Close()
	base := path.Base(f.Path)
	st, err := parent.Lstat(base)
	if errors.Is(err, fs.ErrNotExist) {
		return WithdrawnGone, nil
	}
	if err != nil {
		return "", err
	}
	if fileID(st) != f.File {
		// Another file than the one stella wrote, whatever its bytes.
		return WithdrawnChanged, nil
	}
	same, err := holdsIn(parent, base, st, f.Digest, f.Size)
	if err != nil {
		return "", err
	}
	if withdrawHashedHook != nil {
		withdrawHashedHook()
	}
	switch {
	case !same:
		return WithdrawnChanged, nil
	case keep:
		return WithdrawnKept, nil
	}
	// The name still the file hashed: else another took its place.
	if now, err := parent.Lstat(base); err != nil || !os.SameFile(now, st) {
		return WithdrawnChanged, nil
	}
	if err := parent.Remove(base); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return "", err
	}
	a.removeEmptyParents(f.Path)
	return WithdrawnRemoved, nil
}

// withdrawHashedHook, if set (by tests), runs between a withdrawn file's
// hash and its removal.
var withdrawHashedHook func()

// holdsIn is holds for name under r.
func holdsIn(r *os.Root, name string, st fs.FileInfo, d digest.Digest, size int64) (bool, error) {
	if !st.Mode().IsRegular() || st.Size() != size || d.Validate() != nil {
		return false, nil
	}
	f, err := openRegularIn(r, name, st)
	if err != nil || f == nil {
		return false, err
	}
	defer f.Close()
	v := d.Algorithm().Digester()
	if _, err := io.Copy(v.Hash(), f); err != nil {
		return false, err
	}
	return v.Digest() == d, nil
}

// openRegular opens name, which Lstat gave as st, for reading; nil, nil if
// what it opened is not that file (replaced meanwhile, or a symlink now).
func (a *advisoryWriter) openRegular(name string, st fs.FileInfo) (*os.File, error) {
	return openRegularIn(a.root, name, st)
}

// openRegularIn is openRegular for name under r.
func openRegularIn(r *os.Root, name string, st fs.FileInfo) (*os.File, error) {
	f, err := r.Open(name)
	if err != nil {
		return nil, err
	}
	if fst, err := f.Stat(); err != nil || !os.SameFile(st, fst) || !fst.Mode().IsRegular() {
		f.Close()
		return nil, err
	}
	return f, nil
}

// underSymlink reports whether a directory on name's path, under the
// advisories directory, is a symlink (or not a directory at all).
func (a *advisoryWriter) underSymlink(name string) bool {
	for d := path.Dir(name); d != "."; d = path.Dir(d) {
		st, err := a.root.Lstat(d)
		if err != nil {
			// Not there: neither is the file, which Lstat says next.
			return false
		}
		if !st.IsDir() {
			return true
		}
	}
	return false
}

// removeEmptyParents removes the directories above name that its removal
// left empty (stella made them for it), up to, not including, the
// advisories directory; a directory that holds anything stays.
func (a *advisoryWriter) removeEmptyParents(name string) {
	for d := path.Dir(name); d != "."; d = path.Dir(d) {
		if st, err := a.root.Lstat(d); err != nil || !st.IsDir() {
			return
		}
		if a.root.Remove(d) != nil {
			return
		}
		a.forget(d)
	}
}
