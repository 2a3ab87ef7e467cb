package layout

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/stellaops/mirror/pkg/errdef"
)

// Staging is a bundle directory under construction: a hidden sibling of its
// destination, renamed into place by Commit, so the destination holds a
// complete bundle or nothing.
type Staging struct {
	*Dir
	dest  string
	force bool
	// lock holds the staging directory's lock (lockDir) while this
	// process builds it: another Stage of the same dest then leaves it be.
	lock *os.File
	// leftBehind is LeftBehind's.
	leftBehind error
}

// Stage creates the staging directory for dest. An existing dest that is not
// an empty directory is refused (errdef.ErrExists) unless force is set and
// it is a bundle directory (it has an oci-layout file).
func Stage(dest string, force bool) (*Staging, error) {
	dest = filepath.Clean(dest)
	if b := filepath.Base(dest); b == "." || b == ".." {
		// Its staging sibling would be made inside it, and the commit
		// would have to rename the directory the caller stands in.
		return nil, fmt.Errorf("%s: name the directory to write (for example ./bundle), not the current or parent one: %w", dest, errdef.ErrUsage)
	}
	putBack, err := recoverReplaced(dest)
	if err != nil {
		return nil, err
	}
	if err := checkDest(dest, force); err != nil {
		if putBack != "" {
			// The user saw no bundle there: say where the one refused
			// came from.
			return nil, fmt.Errorf("%w: it is the bundle a replace of it (create or pull --force) cut short had left at %s, just put back", err, putBack)
		}
		return nil, err
	}
	tmp, lock, err := hiddenDirBeside(dest)
	if err != nil {
		return nil, err
	}
	return &Staging{Dir: &Dir{root: tmp}, dest: dest, force: force, lock: lock}, nil
}

// StageScratch creates a staging directory beside path that is never
// committed (Abort removes it): the working directory of an output that is
// not a directory, such as create's one-pass archive. Like Stage's, it is
// hidden and named uniquely, so nothing already beside path is in its way.
func StageScratch(path string) (*Staging, error) {
	tmp, lock, err := hiddenDirBeside(filepath.Clean(path))
	if err != nil {
		return nil, err
	}
	return &Staging{Dir: &Dir{root: tmp}, lock: lock}, nil
}

// hiddenDirBeside makes a new hidden directory in path's parent, named
// after path, and holds its lock (tryLock) while this process builds it.
// Those of earlier runs that no live process holds are removed first.
func hiddenDirBeside(path string) (string, *os.File, error) {
	parent := filepath.Dir(path)
	if err := os.MkdirAll(parent, 0o755); err != nil {
		return "", nil, err
	}
	if err := removeAbandonedStaging(path); err != nil {
		return "", nil, err
	}
	for {
		tmp, err := os.MkdirTemp(parent, "."+filepath.Base(path)+".tmp-")
		if err != nil {
			return "", nil, err
		}
		// Another run's removeAbandonedStaging may take it until it is
		// locked: then another is made. A filesystem without locks (some
		// network or FUSE ones) takes none: another run there cannot lock
		// it either, so leaves it be.
		lock, err := os.Open(tmp)
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			os.RemoveAll(tmp)
			return "", nil, err
		}
		if !holdLock(lock) {
			lock.Close()
			continue
		}
		if err := lock.Chmod(0o755); err != nil {
			lock.Close()
			os.RemoveAll(tmp)
			return "", nil, err
		}
		return tmp, lock, nil
	}
}

// removeAbandonedStaging removes the staging directories of dest
// (.DEST.tmp-N) that no live process holds: what a create or pull killed
// before its commit (SIGKILL, a power cut) left, as large as the bundle,
// so that a re-run on media sized for it would not fit. One a running
// process holds (its lock) is left alone, and so is the .DEST.tmp-N.old
// of a replaced bundle (recoverReplaced's).
func removeAbandonedStaging(dest string) error {
	prefix := "." + filepath.Base(dest) + ".tmp-"
	entries, err := os.ReadDir(filepath.Dir(dest))
	if err != nil {
		return err
	}
	for _, e := range entries {
		rest, found := strings.CutPrefix(e.Name(), prefix)
		if !found || !e.IsDir() || !isDecimal(rest) {
			continue
		}
		p := filepath.Join(filepath.Dir(dest), e.Name())
		lock, ok, err := tryLock(p)
		if err != nil || !ok {
			continue // gone, or another process's
		}
		err = os.RemoveAll(p)
		lock.Close()
		if err != nil {
			return err
		}
	}
	return nil
}

// recoverReplaced finishes what a Commit that replaced dest in two renames
// (no exchange) left when killed: the old bundle aside as .DEST.tmp-N.old.
// Killed before the new one (.DEST.tmp-N) took dest's name, no bundle is
// at dest: the old one is put back, as the command never said the new one
// was written (its staging directory is then removed as abandoned).
// Killed after, the old one is removed, as Commit would have. One whose
// staging directory a live process holds (its lock) is left be: that
// commit is under way. It returns where the bundle it put back was, if
// it put one back.
func recoverReplaced(dest string) (putBack string, err error) {
	parent, prefix := filepath.Dir(dest), "."+filepath.Base(dest)+".tmp-"
	entries, err := os.ReadDir(parent)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return "", nil
		}
		return "", err
	}
	for _, e := range entries {
		rest, found := strings.CutPrefix(e.Name(), prefix)
		n, old := strings.CutSuffix(rest, ".old")
		if !found || !old || !isDecimal(n) || !e.IsDir() {
			continue
		}
		aside := filepath.Join(parent, e.Name())
		staging := strings.TrimSuffix(aside, ".old")
		lock, unheld, err := tryLock(staging)
		moved := errors.Is(err, fs.ErrNotExist) // the new one took dest's name
		if !moved && (err != nil || !unheld) {
			continue // a commit under way, or no lock to tell
		}
		_, err = os.Lstat(dest)
		switch {
		case moved && err == nil:
			err = os.RemoveAll(aside)
		case !moved && errors.Is(err, fs.ErrNotExist):
			if err = os.Rename(aside, dest); err == nil {
				putBack = aside
				err = SyncDir(parent)
			}
		default:
			// No state a Commit leaves (neither the staging
			// directory nor dest there): left be.
			err = nil
		}
		if lock != nil {
			lock.Close()
		}
		if err != nil {
			return "", fmt.Errorf("%s: the bundle a replace cut short left aside at %s: %w", dest, aside, err)
		}
	}
	return putBack, nil
}

// NotThere is the error (errdef.ErrNotFound) for path, a bundle directory
// or a file of one, that is not there: where a replace of that directory
// cut short left the bundle it held aside, it names where; for a volume
// list a pack --split stopped before it was written (its record there),
// it says to run that pack again.
func NotThere(path string) error {
	if err := missingBundle(path); err != nil {
		return err
	}
	if err := missingBundle(filepath.Dir(path)); err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	if archive, ok := strings.CutSuffix(path, VolumesSuffix); ok {
		// A pack --split stopped before its list took its name left
		// its volumes, and the record of them.
		if _, err := os.Lstat(pendingPath(archive)); err == nil {
			return fmt.Errorf("%s: not there: a pack --split that did not finish left its volumes without it (%s records them): run that pack again, which writes it: %w",
				path, pendingPath(archive), errdef.ErrNotFound)
		}
	}
	return fmt.Errorf("%s: %w", path, errdef.ErrNotFound)
}

// missingBundle is the error for the bundle directory dir, not there,
// that names where a replace cut short left the bundle it held; nil if
// none.
func missingBundle(dir string) error {
	aside := replacedAside(dir)
	if aside == "" {
		return nil
	}
	return fmt.Errorf("%s: not there: a replace of it (create or pull --force) cut short left the bundle it held at %s: the next create or pull onto %s puts it back, or rename it back: %w",
		dir, aside, dir, errdef.ErrNotFound)
}

// replacedAside returns where a Commit cut short between its two renames
// left the bundle that was at dest (.DEST.tmp-N.old, a bundle directory),
// when nothing is at dest; else "".
func replacedAside(dest string) string {
	dest = filepath.Clean(dest)
	if _, err := os.Lstat(dest); !errors.Is(err, fs.ErrNotExist) {
		return ""
	}
	entries, err := os.ReadDir(filepath.Dir(dest))
	if err != nil {
		return ""
	}
	prefix := "." + filepath.Base(dest) + ".tmp-"
	for _, e := range entries {
		rest, found := strings.CutPrefix(e.Name(), prefix)
		n, old := strings.CutSuffix(rest, ".old")
		if !found || !old || !isDecimal(n) || !e.IsDir() {
			continue
		}
		aside := filepath.Join(filepath.Dir(dest), e.Name())
		if st, err := os.Lstat(filepath.Join(aside, OCILayoutFile)); err == nil && st.Mode().IsRegular() {
			return aside
		}
	}
	return ""
}

func checkDest(dest string, force bool) error {
	st, err := os.Lstat(dest)
	if os.IsNotExist(err) {
		return nil
	}
	if err != nil {
		return err
	}
	// Neither a file nor a symbolic link is ever replaced, with --force
	// or without: advice to use it would lead only to another refusal. A
	// link is named as one, since what it points to may be a directory:
	// the bundle is written there when that is named.
	if st.Mode()&fs.ModeSymlink != 0 {
		return fmt.Errorf("%s: %w and is a symbolic link (name the directory it points to instead)", dest, errdef.ErrExists)
	}
	if !st.IsDir() {
		return fmt.Errorf("%s: %w and is not a directory", dest, errdef.ErrExists)
	}
	entries, err := os.ReadDir(dest)
	if err != nil {
		return err
	}
	if len(entries) == 0 {
		return nil
	}
	if force {
		return replaceable(dest, entries)
	}
	return fmt.Errorf("%s: %w and is not empty (use --force to replace it)", dest, errdef.ErrExists)
}

// bundleEntries are the names a bundle directory holds at its top: the
// head files, the blobs, and the human view's directories.
var bundleEntries = func() map[string]bool {
	m := map[string]bool{BlobsDir: true, "advisories": true, "scripts": true, "docs": true}
	for _, h := range headFiles {
		m[h] = true
	}
	return m
}()

// replaceable says whether --force may replace dest, a directory holding
// entries: replacing removes it whole, so only a bundle is replaced (its
// oci-layout and manifest.json there), holding nothing a bundle does not
// (and stella's own .NAME.tmp- files). Never a directory of other files
// named by mistake (a home directory, the root of a USB stick), nor
// another tool's OCI layout, nor a bundle the operator put files of their
// own in.
func replaceable(dest string, entries []os.DirEntry) error {
	for _, name := range []string{OCILayoutFile, ManifestFile} {
		if lt, err := os.Lstat(filepath.Join(dest, name)); err != nil || !lt.Mode().IsRegular() {
			return fmt.Errorf("%s: %w and is not a bundle directory (no %s), so --force does not replace it: name a new or empty directory", dest, errdef.ErrExists, name)
		}
	}
	for _, e := range entries {
		if !bundleEntries[e.Name()] && !strings.Contains(e.Name(), ".tmp-") {
			return fmt.Errorf("%s: %w and holds %s, which no bundle holds, so --force does not replace it: move that out, or name a new or empty directory", dest, errdef.ErrExists, e.Name())
		}
	}
	return nil
}

// Commit moves the staging directory to its destination. A replaced
// destination is swapped with the new one in one step where the system can
// (so that even a crash leaves one whole bundle there), else moved aside
// first; it is removed only after the new one is in place.
func (s *Staging) Commit() error {
	if s.dest == "" {
		return fmt.Errorf("%s: a scratch staging directory has no destination", s.root)
	}
	if err := checkDest(s.dest, s.force); err != nil {
		return err
	}
	// On disk before it takes its name, and its name after: a power cut
	// once the command said "written" leaves the whole bundle, not one
	// with empty blobs.
	if err := s.SyncAll(); err != nil {
		return err
	}
	old, err := s.moveIn()
	if err != nil {
		return err
	}
	if err := SyncDir(filepath.Dir(s.dest)); err != nil {
		return err
	}
	// The new bundle is in place: the old one staying (EIO, a file of it
	// the user may not remove) fails nothing, as the command's output is
	// written. The next create or pull onto dest removes it.
	if old != "" {
		if err := removeReplaced(old); err != nil {
			s.leftBehind = fmt.Errorf("%s: the bundle it replaced is left at %s (the next create or pull onto it removes it, or remove it): %w", s.dest, old, err)
		}
	}
	return nil
}

// removeReplaced removes the bundle a Commit replaced (a variable for tests).
var removeReplaced = os.RemoveAll

// LeftBehind is, after a Commit that replaced a bundle but could not
// remove it, the error naming where it stays; else nil.
func (s *Staging) LeftBehind() error { return s.leftBehind }

// moveIn puts the staging directory at its destination and returns where
// a destination it replaced went.
func (s *Staging) moveIn() (old string, err error) {
	if _, err := os.Lstat(s.dest); err == nil {
		switch err := exchange(s.root, s.dest); {
		case err == nil:
			old, s.root = s.root, s.dest
			return old, nil
		case !errors.Is(err, errors.ErrUnsupported):
			return "", err
		}
		old = s.root + ".old"
		if err := os.Rename(s.dest, old); err != nil {
			return "", err
		}
	}
	if err := os.Rename(s.root, s.dest); err != nil {
		if old != "" {
			os.Rename(old, s.dest)
		}
		return "", err
	}
	s.root = s.dest
	return old, nil
}

// Abort removes the staging directory. It is safe to call after Commit.
func (s *Staging) Abort() {
	s.Dir.Close()
	if s.root != s.dest {
		os.RemoveAll(s.root)
	}
	if s.lock != nil {
		s.lock.Close()
		s.lock = nil
	}
}

// RemoveTemporaries removes what an interrupted write into the directory
// left: the temporary files WriteFile makes beside a head file
// (.manifest.dsse.tmp-123…) and Push makes among the blobs
// (blobs/sha256/.tmp-0123456789ab-123…). Only those exact names are
// removed. A process killed between its write and its rename (SIGKILL, a
// power cut) leaves them, and the directory would not verify again, as a
// file manifest.json does not name, until they are gone.
func (d *Dir) RemoveTemporaries() error {
	for _, h := range headFiles {
		if err := removeMatching(d.root, "."+h+".tmp-", isDecimal); err != nil {
			return err
		}
	}
	// Listed without following a symlink, as every read of the bundle,
	// and a batch at a time: blobs/sha256 of a million files was read
	// whole (sign, past 100 MiB).
	blobs := filepath.Join(d.root, BlobsDir, "sha256")
	err := d.ReadDirEach(BlobsDir+"/sha256", func(e fs.DirEntry) error {
		return removeEntries(blobs, []fs.DirEntry{e}, ".tmp-", func(rest string) bool {
			hex, n, ok := strings.Cut(rest, "-")
			return ok && len(hex) == 12 && strings.Trim(hex, "0123456789abcdef") == "" && isDecimal(n)
		})
	})
	if errors.Is(err, errdef.ErrNotFound) {
		return nil
	}
	return err
}

// IsTemporary reports whether rel, a slash-separated path in a bundle
// directory, is a temporary file RemoveTemporaries removes: one a write
// into the directory killed before its end left.
func IsTemporary(rel string) bool {
	if hex, n, ok := strings.Cut(strings.TrimPrefix(rel, BlobsDir+"/sha256/.tmp-"), "-"); ok && strings.HasPrefix(rel, BlobsDir+"/sha256/.tmp-") {
		return len(hex) == 12 && strings.Trim(hex, "0123456789abcdef") == "" && isDecimal(n)
	}
	for _, h := range headFiles {
		if rest, ok := strings.CutPrefix(rel, "."+h+".tmp-"); ok && isDecimal(rest) {
			return true
		}
	}
	return false
}

// removeMatching removes the regular files of dir named prefix+rest where
// ok(rest). A missing dir holds none.
func removeMatching(dir, prefix string, ok func(string) bool) error {
	entries, err := os.ReadDir(dir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	return removeEntries(dir, entries, prefix, ok)
}

// removeEntries removes the regular files among entries (of dir) named
// prefix+rest where ok(rest).
func removeEntries(dir string, entries []fs.DirEntry, prefix string, ok func(string) bool) error {
	for _, e := range entries {
		rest, found := strings.CutPrefix(e.Name(), prefix)
		if !found || !e.Type().IsRegular() || !ok(rest) {
			continue
		}
		p := filepath.Join(dir, e.Name())
		lock, held, err := tryLock(p)
		if err != nil || !held {
			continue // gone, or a live write's (CreateTemp)
		}
		err = os.Remove(p)
		lock.Close()
		if err != nil && !errors.Is(err, fs.ErrNotExist) {
			return err
		}
	}
	return nil
}

// RemoveStaleOutput removes what a write of the file out killed before its
// end left beside it: the temporary files .OUT.tmp-N of the archive,
// .OUT.NNN.tmp-N of its volumes and .OUT.volumes.json.tmp-N,
// .OUT.volumes.dsse.tmp-N of their list, .OUT.volumes.pending.tmp-N of
// the record of their placing (MarkPending). They are as large as the
// archive: left on media sized for it, the next write would not fit. Those
// a live write holds (CreateTemp) are left be.
func RemoveStaleOutput(out string) error {
	base := filepath.Base(out)
	return removeMatching(filepath.Dir(out), "."+base, func(rest string) bool {
		mid, n, ok := strings.Cut(rest, ".tmp-")
		if !ok || !isDecimal(n) {
			return false
		}
		switch mid {
		case "", VolumesSuffix, strings.TrimSuffix(VolumesSuffix, ".json") + ".dsse", pendingSuffix:
			return true
		}
		num, ok := strings.CutPrefix(mid, ".")
		return ok && len(num) >= 3 && isDecimal(num)
	})
}

func isDecimal(s string) bool { return s != "" && strings.Trim(s, "0123456789") == "" }

// CreateTemp creates the temporary file that the output path is written
// through (.NAME.tmp-N beside it), locked while it is open so that
// RemoveStaleOutput, run by another write of the same output, leaves it be:
// keep it open until it has taken its name.
func CreateTemp(path string) (*os.File, error) {
	for {
		f, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".tmp-")
		if err != nil {
			return nil, tempError(path, err)
		}
		if holdLock(f) {
			return f, nil
		}
		f.Close() // removed as stale before it was locked: another
	}
}

// tempError is CreateTemp's error for path: it names the output, not the
// hidden file being made beside it (".bundle.tar.tmp-123: no such file or
// directory" named a file the operator never asked for). A directory that
// is not there is not made: a mount point mistyped would have the output
// written on the disk under it.
func tempError(path string, err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		err = pe.Err
	}
	if errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("%s: its directory %s does not exist: %w", path, filepath.Dir(path), errdef.ErrNotFound)
	}
	return fmt.Errorf("%s: cannot create it in %s: %w", path, filepath.Dir(path), err)
}
