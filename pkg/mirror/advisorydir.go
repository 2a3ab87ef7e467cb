package mirror

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"

	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/stellaops/mirror/pkg/errdef"
	"github.com/stellaops/mirror/pkg/layout"
)

// advisoryWriter writes advisories under a directory, through os.Root so
// that no path (or symlink planted in the directory) can lead outside it,
// each through a temporary file renamed into place once verified.
type advisoryWriter struct {
	root *os.Root
	dir  string
	// allowRollback writes a bundle's advisories over a newer bundle's;
	// keepWithdrawn leaves the advisories this bundle withdrew (finish).
	allowRollback, keepWithdrawn bool

	// stale holds, by directory (slash-separated, under the root), the
	// temporary files of dead imports it held when removeStale first
	// listed it, not yet removed: each directory is listed once an
	// import, not once an advisory written there.
	staleMu sync.Mutex
	stale   map[string][]string

	// dirs are the directories openDir keeps open, by slash-separated
	// path under the root; dirsUsed counts the times it gave one.
	dirsMu   sync.Mutex
	dirs     map[string]*keptDir
	dirsUsed uint64

	// recorded are the paths the directory's record names (its files and
	// pending ones), nil when it holds no record of this user's: a file in
	// the way of an advisory is written over only where the record says
	// stella wrote (setRecord, unrecorded).
	recordMu sync.Mutex
	recorded map[string]bool
}

func openAdvisoryDir(dir string) (*advisoryWriter, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("--advisories-dir %s: %w", dir, err)
	}
	root, err := os.OpenRoot(dir)
	if err != nil {
		return nil, fmt.Errorf("--advisories-dir %s: %w", dir, err)
	}
	return &advisoryWriter{root: root, dir: dir}, nil
}

// relName is where a bundle path lands: advisories/nvd.json.gz → nvd.json.gz.
func relName(bundlePath string) string { return strings.TrimPrefix(bundlePath, "advisories/") }

// create prepares a temporary file for each of the bundle paths, which
// share one content; commit renames them into place, abort removes them.
// Only the first is open while the content streams into it: a bundle may
// name the same content under thousands of paths (empty or identical
// advisories), and a descriptor each would pass `ulimit -n`. The others
// are copied from it, one at a time, once it is whole (close).
func (a *advisoryWriter) create(desc ocispec.Descriptor, paths []string) (*pendingAdvisory, error) {
	p := &pendingAdvisory{w: a, desc: desc}
	for _, bp := range paths {
		name := relName(bp)
		d, err := a.openDir(path.Dir(name), true)
		if err != nil {
			p.abort()
			return nil, fmt.Errorf("advisory %s: %w", bp, a.mkdirError(path.Dir(name), err))
		}
		if d != nil {
			a.release(d)
		}
		// A name the rename cannot take (a directory holds it) is refused
		// now, before anything is tagged, not once all is placed.
		st, err := a.lstat(name)
		if err == nil && st.IsDir() {
			p.abort()
			return nil, fmt.Errorf("advisory %s: %s %w as a directory", bp, path.Join(a.dir, name), errdef.ErrExists)
		}
		if err == nil {
			// A file already holding these bytes (a re-run, an advisory
			// unchanged since the last release) is not written again:
			// commit checks that it is still the file read here.
			same, err := a.holds(name, st, desc.Digest, desc.Size)
			if err != nil {
				p.abort()
				return nil, fmt.Errorf("advisory %s: %w", bp, err)
			}
			if same {
				p.held = append(p.held, heldAdvisory{path: bp, name: name, st: st})
				continue
			}
			// A file no import recorded writing is the operator's own:
			// refused now, before anything is tagged, never written over.
			mine, err := a.unrecorded(name)
			if err == nil && mine {
				err = fmt.Errorf("%s is not one stella wrote (%s never named it): a file of your own, which this bundle's advisory would replace: move it aside and run the import again: %w",
					path.Join(a.dir, name), AdvisoryRecordName, errdef.ErrExists)
			}
			if err != nil {
				p.abort()
				return nil, fmt.Errorf("advisory %s: %w", bp, err)
			}
		}
		if err := a.removeStale(name); err != nil {
			p.abort()
			return nil, fmt.Errorf("advisory %s: %w", bp, err)
		}
		var suffix [6]byte
		rand.Read(suffix[:])
		tmp := path.Join(path.Dir(name), fmt.Sprintf(".%s.tmp-%d-%s", path.Base(name), os.Getpid(), hex.EncodeToString(suffix[:])))
		if p.file == nil {
			f, err := a.createTemp(tmp)
			if err != nil {
				p.abort()
				return nil, fmt.Errorf("advisory %s: %w", bp, err)
			}
			p.file = f
		}
		p.paths = append(p.paths, bp)
		p.tmps = append(p.tmps, tmp)
		p.names = append(p.names, name)
	}
	return p, nil
}

// setRecord keeps the paths rec names, the directory's record read before
// the import writes anything; none when there is no record, or one that may
// not be this user's (foreign): then nothing tells a file of the operator's
// own from an earlier import's, and a file in the way is written over.
func (a *advisoryWriter) setRecord(rec *advisoryRecord) {
	a.recordMu.Lock()
	defer a.recordMu.Unlock()
	a.recorded = nil
	if rec == nil || rec.foreign != "" {
		return
	}
	a.recorded = map[string]bool{}
	for _, f := range append(slices.Clone(rec.Files), rec.Pending...) {
		a.recorded[f.Path] = true
	}
}

// unrecorded reports whether name, a file found where an advisory goes,
// is one the directory's record does not name. The record is read again
// before it says so: another import into the directory may have finished
// since it was first read, and recorded the file.
func (a *advisoryWriter) unrecorded(name string) (bool, error) {
	a.recordMu.Lock()
	known, recorded := a.recorded != nil, a.recorded[name]
	a.recordMu.Unlock()
	if !known || recorded {
		return false, nil
	}
	rec, err := a.readRecord()
	if err != nil {
		return false, err
	}
	a.setRecord(rec)
	a.recordMu.Lock()
	defer a.recordMu.Unlock()
	return a.recorded != nil && !a.recorded[name], nil
}

// mkdirError tells why MkdirAll of dir (slash-separated, under the root)
// failed where it is one of dir's directories on disk that is none:
// os.Root's own words name the part alone ("mkdirat nvd: statat nvd: path
// escapes from parent"), not where it is nor what it is. A symlink that
// stays inside the root is followed, and passed over here; one out of it
// is not followed. Any other failure is err.
func (a *advisoryWriter) mkdirError(dir string, err error) error {
	parts := strings.Split(dir, "/")
	for i := range parts {
		part := path.Join(parts[:i+1]...)
		st, lerr := a.root.Lstat(part)
		if lerr != nil {
			break
		}
		full := filepath.Join(a.dir, filepath.FromSlash(part))
		if st.Mode()&fs.ModeSymlink != 0 {
			if _, serr := a.root.Stat(part); serr == nil {
				continue
			}
			return fmt.Errorf("%s is %s (not followed): %w", full, layout.FileKind(fs.ModeSymlink), errdef.ErrUsage)
		}
		if !st.IsDir() {
			return fmt.Errorf("%s is a file, not a directory: %w", full, errdef.ErrUsage)
		}
	}
	return err
}

// removeStale removes the temporary files of name that an import killed
// before its renames left (.NAME.tmp-PID-HEX): as large as the advisory,
// they stayed hidden in the directory for good. One whose process still
// runs (another import writing the same advisories) is left be: it is
// renamed into place only once that import's tags are written, and could
// not be then. The directory is listed once (staleIn): a feed of 20000
// advisories in one directory, listed once each, took minutes.
func (a *advisoryWriter) removeStale(name string) error {
	dir := path.Dir(name)
	a.staleMu.Lock()
	defer a.staleMu.Unlock()
	tmps, err := a.staleIn(dir)
	if err != nil {
		return err
	}
	prefix := "." + path.Base(name) + ".tmp-"
	var rest []string
	for i, tmp := range tmps {
		if r, ok := strings.CutPrefix(tmp, prefix); !ok || strings.Contains(r, ".") {
			rest = append(rest, tmp)
			continue
		}
		if err := a.remove(path.Join(dir, tmp)); err != nil && !errors.Is(err, fs.ErrNotExist) {
			a.stale[dir] = append(rest, tmps[i:]...)
			return err
		}
	}
	a.stale[dir] = rest
	return nil
}

// staleIn lists, the first time it is asked of dir, the temporary files
// there of imports no longer running; then it gives those not removed yet.
func (a *advisoryWriter) staleIn(dir string) ([]string, error) {
	if tmps, ok := a.stale[dir]; ok {
		return tmps, nil
	}
	if staleListedHook != nil {
		staleListedHook(dir)
	}
	var tmps []string
	r, rel := a.root, dir
	if kd, err := a.openDir(dir, false); err == nil && kd != nil {
		r, rel = kd.r, "."
		defer a.release(kd)
	}
	d, err := r.Open(rel)
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return nil, err
	}
	// Not there: removed meanwhile, by an import withdrawing the last
	// advisory under it; nothing stale there (createTemp makes it again).
	if err == nil {
		entries, err := d.ReadDir(-1)
		d.Close()
		if err != nil {
			return nil, err
		}
		for _, e := range entries {
			if pid, ok := importTemporary(e.Name()); ok && e.Type().IsRegular() && !layout.ProcessAlive(pid) {
				tmps = append(tmps, e.Name())
			}
		}
	}
	if a.stale == nil {
		a.stale = map[string][]string{}
	}
	a.stale[dir] = tmps
	return tmps, nil
}

// importTemporary reports whether base is the name of a temporary file
// an import writes an advisory (or its record) to, .NAME.tmp-PID-HEX, and
// the PID of that import.
func importTemporary(base string) (pid int, ok bool) {
	// NAME may hold ".tmp-" itself, PID-HEX not.
	i := strings.LastIndex(base, ".tmp-")
	if i < 1 || base[0] != '.' {
		return 0, false
	}
	p, suffix, ok := strings.Cut(base[i+len(".tmp-"):], "-")
	n, err := strconv.Atoi(p)
	if !ok || err != nil || n <= 0 || len(suffix) != 12 || strings.Trim(suffix, "0123456789abcdef") != "" {
		return 0, false
	}
	return n, true
}

// staleListedHook, if set (by tests), runs each time removeStale lists a
// directory.
var staleListedHook func(dir string)

// createTemp creates the temporary file tmp, its directory again if an
// import that withdrew the last advisory under it removed it meanwhile.
func (a *advisoryWriter) createTemp(tmp string) (*os.File, error) {
	for range 3 {
		f, err := a.openFile(tmp, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o644)
		if !errors.Is(err, fs.ErrNotExist) {
			return f, err
		}
		a.forget(path.Dir(tmp))
		if err := a.root.MkdirAll(path.Dir(tmp), 0o755); err != nil {
			return nil, err
		}
	}
	return a.openFile(tmp, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o644)
}

type pendingAdvisory struct {
	w *advisoryWriter
	// desc is the content's: every path holds it.
	desc ocispec.Descriptor
	// held are the paths whose file already held the content when create
	// looked: no temporary file is written for them.
	held []heldAdvisory
	// file is the first temporary file, open until close; the others are
	// created by close.
	file               *os.File
	paths, tmps, names []string

	// writeErr is the first write into file that failed (no room, a file
	// size limit), told as the directory's: the upload reading through
	// the writer reports it as its own, and as a read of the bundle.
	writeMu  sync.Mutex
	writeErr error
}

// heldAdvisory is a path of the bundle whose file already held its
// content: st is what Lstat said of it then.
type heldAdvisory struct {
	path, name string
	st         fs.FileInfo
}

// writer returns the writer into the first temporary file; io.Discard when
// every path already holds the content (the bytes are still read, and
// verified, by the upload).
func (p *pendingAdvisory) writer() io.Writer {
	if p.file == nil {
		return io.Discard
	}
	return advisoryFileWriter{p}
}

// advisoryFileWriter writes into the first temporary file of p, keeping
// the first error as p's, naming the advisory's file, not the temporary
// one.
type advisoryFileWriter struct{ p *pendingAdvisory }

func (w advisoryFileWriter) Write(b []byte) (int, error) {
	n, err := w.p.file.Write(b)
	if err != nil {
		var pe *os.PathError
		if errors.As(err, &pe) {
			err = pe.Err // not a read of the bundle's medium (transfer's mediumFault)
		}
		err = fmt.Errorf("--advisories-dir %s: writing %s: %w", w.p.w.dir, filepath.Join(w.p.w.dir, filepath.FromSlash(w.p.names[0])), err)
		w.p.writeMu.Lock()
		if w.p.writeErr == nil {
			w.p.writeErr = err
		}
		w.p.writeMu.Unlock()
	}
	return n, err
}

// failedWrite returns the first write into the temporary file that failed.
func (p *pendingAdvisory) failedWrite() error {
	p.writeMu.Lock()
	defer p.writeMu.Unlock()
	return p.writeErr
}

// close syncs and closes the first temporary file once everything is
// written, then copies it into the others, each synced and closed before
// the next is opened.
func (p *pendingAdvisory) close() error {
	if p.file == nil {
		return nil
	}
	var err error
	if !layout.CanSyncFilesystem {
		err = p.file.Sync() // else finish syncs them all at once
	}
	if cerr := p.file.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return err
	}
	for i := 1; i < len(p.tmps); i++ {
		if err := p.copyTo(p.tmps[i]); err != nil {
			return fmt.Errorf("advisory %s: %w", p.paths[i], err)
		}
	}
	return nil
}

// copyTo writes the first temporary file's content into a new temporary
// file tmp.
func (p *pendingAdvisory) copyTo(tmp string) error {
	src, err := p.w.openFile(p.tmps[0], os.O_RDONLY, 0)
	if err != nil {
		return err
	}
	defer src.Close()
	dst, err := p.w.createTemp(tmp)
	if err != nil {
		return err
	}
	_, err = io.Copy(dst, src)
	if err == nil && !layout.CanSyncFilesystem {
		err = dst.Sync()
	}
	if cerr := dst.Close(); err == nil {
		err = cerr
	}
	return err
}

// commit renames each closed file into place, unless the file there
// already holds the same bytes (a re-run: it is left as it was, its
// temporary file removed), and reports which; on failure, written are
// those it renamed before.
func (p *pendingAdvisory) commit() (written, inPlace []string, err error) {
	for _, h := range p.held {
		if err := p.stillHeld(h); err != nil {
			p.abort()
			return nil, nil, err
		}
		inPlace = append(inPlace, path.Join(p.w.dir, h.name))
	}
	synced := map[string]bool{}
	for i := range p.tmps {
		if st, lerr := p.w.lstat(p.names[i]); lerr == nil {
			same, err := p.w.holds(p.names[i], st, p.desc.Digest, p.desc.Size)
			if err != nil {
				p.abort()
				return written, nil, fmt.Errorf("advisory %s: %w", p.paths[i], err)
			}
			if same {
				p.w.remove(p.tmps[i])
				inPlace = append(inPlace, path.Join(p.w.dir, p.names[i]))
				continue
			}
		}
		if err := p.w.rename(p.tmps[i], p.names[i]); err != nil {
			p.abort()
			return written, nil, err
		}
		synced[path.Dir(p.names[i])] = false
		written = append(written, path.Join(p.w.dir, p.names[i]))
		if advisoryRenamedHook != nil {
			if err := advisoryRenamedHook(p.names[i]); err != nil {
				return written, nil, err
			}
		}
	}
	// The new names on disk before the import says they are written
	// (finish syncs them all at once where it can).
	if layout.CanSyncFilesystem {
		return written, inPlace, nil
	}
	for d := range synced {
		if err := layout.SyncDir(filepath.Join(p.w.dir, filepath.FromSlash(d))); err != nil {
			return written, nil, err
		}
	}
	return written, inPlace, nil
}

// advisoryRenamedHook, if set (by tests), runs once each advisory is
// renamed into place; an error it returns ends the import there, as a
// crash would.
var advisoryRenamedHook func(name string) error

// stillHeld checks that the file create found holding the content still
// does: the same file, unchanged (else its bytes are read again). Content
// that changed meanwhile (another import, or a hand, wrote there) cannot be
// put back without a temporary file: the import is run again.
func (p *pendingAdvisory) stillHeld(h heldAdvisory) error {
	st, err := p.w.lstat(h.name)
	if err == nil && os.SameFile(st, h.st) && st.ModTime().Equal(h.st.ModTime()) && st.Size() == h.st.Size() {
		return nil
	}
	if err == nil {
		var same bool
		if same, err = p.w.holds(h.name, st, p.desc.Digest, p.desc.Size); err == nil && same {
			return nil
		}
	}
	if err == nil || errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("advisory %s: %s changed while this import ran (another import or a hand wrote there): run the import again", h.path, path.Join(p.w.dir, h.name))
	}
	return fmt.Errorf("advisory %s: %w", h.path, err)
}

// abort removes the temporary files (closing the first if still open);
// those not created yet are not there to remove.
func (p *pendingAdvisory) abort() {
	if p.file != nil {
		p.file.Close()
	}
	for _, tmp := range p.tmps {
		p.w.remove(tmp)
	}
}
