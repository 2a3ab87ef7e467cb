package mirror

import (
	"bytes"
	"context"
	"fmt"
	"io/fs"
	"log/slog"
	"path"
	"path/filepath"
	"slices"
	"strings"

	"github.com/stellaops/mirror/pkg/layout"
)

// advisoriesPlaced is what an import did in its advisories directory.
type advisoriesPlaced struct {
	// written were renamed into place; inPlace already held the same
	// bytes and were left as they were. Together, the release's advisories.
	written, inPlace []string
	withdrawn        []WithdrawnAdvisory
}

// finish runs once the placement is complete, its tags written. Under the
// directory's lock (two imports into one directory finish one after the
// other) it reads the record again, refuses to go back to an older bundle
// than the one recorded, moves the pending advisories into place, removes
// the advisories the previous import wrote that this bundle no longer
// lists, and writes the record if it changed: the same import again
// writes nothing. A crash between the removals and the record is safe:
// the next import finds those files gone.
func (a *advisoryWriter) finish(ctx context.Context, pending []*pendingAdvisory, md *metadata, log *slog.Logger) (*advisoriesPlaced, error) {
	unlock, err := layout.LockDir(ctx, a.dir, func() {
		log.Warn("waiting for another import writing the same advisories directory", "dir", a.dir)
	})
	if err != nil {
		return nil, err
	}
	defer unlock()
	// Another import may have removed a directory kept open, and a hand
	// moved one: its files are then found, and renamed, by their path.
	a.recheckDirs()
	prev, err := a.readRecord()
	if err != nil {
		return nil, err
	}
	if err := checkRecordGeneration(a.dir, prev, md, a.allowRollback); err != nil {
		return nil, err
	}
	m := md.Manifest
	rec := &advisoryRecord{SchemaVersion: advisoryRecordSchema, BundleID: m.BundleID, Version: m.Release.Version, Generation: m.MirrorGeneration, Root: md.RootDesc.Digest}
	own := prev
	if prev != nil && prev.foreign != "" {
		log.Warn("the advisories directory's record may not be this user's own, so this import removes nothing it does not list; its own record replaces it",
			"record", path.Join(a.dir, AdvisoryRecordName), "why", prev.foreign)
		own = nil
	}
	pendingWritten, err := a.writePending(own, rec, pending)
	if err != nil {
		return nil, err
	}
	// Every temporary file's data on disk before any takes its name: a
	// power cut must not leave an advisory's name on an empty file. One
	// sync of the filesystem where it can, not one a file (10000 small
	// advisories: 20000 syncs), and one more once they are renamed.
	// A re-run, which writes nothing, syncs nothing.
	dirs := a.tempDirs(pending)
	if len(dirs) > 0 {
		if err := layout.SyncFilesystems(dirs); err != nil {
			return nil, fmt.Errorf("--advisories-dir %s: %w", a.dir, err)
		}
	}
	out := &advisoriesPlaced{}
	for _, p := range pending {
		written, inPlace, err := p.commit()
		out.written = append(out.written, written...)
		if err != nil {
			return nil, partly(out, err)
		}
		out.inPlace = append(out.inPlace, inPlace...)
		names := slices.Clone(p.names)
		for _, h := range p.held {
			names = append(names, h.name)
		}
		for _, name := range names {
			// The file there now, which commit found holding the content
			// (renamed by this import, or in place: the one found first,
			// or the same bytes another import renamed in meanwhile).
			var id uint64
			if st, err := a.lstat(name); err == nil {
				id = fileID(st)
			}
			rec.Files = append(rec.Files, recordedAdvisory{Path: name, Digest: p.desc.Digest, Size: p.desc.Size, File: id})
		}
	}
	if len(out.written) > 0 {
		if err := layout.SyncFilesystems(dirs); err != nil {
			return nil, partly(out, fmt.Errorf("--advisories-dir %s: %w", a.dir, err))
		}
	}
	carried := map[string]bool{}
	for _, f := range m.Advisories {
		carried[relName(f.Path)] = true
	}
	if own == nil {
		a.warnUnrecorded(carried, log)
	}
	var still []recordedAdvisory
	var failed error
	out.withdrawn, still, failed = a.withdraw(own, carried, rec.Files, a.keepWithdrawn)
	logWithdrawn(a.dir, out.withdrawn, log)
	data, dropped, err := fitRecord(rec, still)
	if err != nil {
		return nil, partly(out, err)
	}
	if len(dropped) > 0 {
		log.Warn("withdrawn advisories kept (--keep-withdrawn) are no longer recorded, the record being at its bound: they are left in place for good; remove them by hand",
			"dir", a.dir, "files", len(dropped), "first", dropped[0].Path)
	}
	if pendingWritten || own == nil || !bytes.Equal(data, a.prevBytes(prev)) {
		if err := a.writeRecord(data); err != nil {
			return nil, partly(out, err)
		}
	}
	return out, failed
}

// advisoriesPartlyPlaced is finish's failure once it has renamed
// advisories into place or removed withdrawn ones: the directory is then
// neither as it was nor as the bundle has it, and its record not written.
type advisoriesPartlyPlaced struct {
	placed, removed int
	err             error
}

func (e *advisoriesPartlyPlaced) Error() string { return e.err.Error() }
func (e *advisoriesPartlyPlaced) Unwrap() error { return e.err }

// partly is err, as advisoriesPartlyPlaced if out holds anything done.
func partly(out *advisoriesPlaced, err error) error {
	removed := 0
	for _, w := range out.withdrawn {
		if w.State == WithdrawnRemoved {
			removed++
		}
	}
	if len(out.written) == 0 && removed == 0 {
		return err
	}
	return &advisoriesPartlyPlaced{placed: len(out.written), removed: removed, err: err}
}

// writePending writes, before any rename, a record that is own (the
// previous import's; nil if none, or not this user's) with, as pending,
// the files this import is about to rename into place and those an
// earlier import cut short left there: an import cut short among its
// renames leaves files of its bundle under no entry of the record, which
// the next import would otherwise leave for good (a new advisory) or take
// for the operator's edit (a changed one) once its bundle withdraws them.
// It reports whether it wrote one: not when nothing is to be renamed, nor
// when the record would pass its bound.
func (a *advisoryWriter) writePending(own, rec *advisoryRecord, pending []*pendingAdvisory) (bool, error) {
	var next []recordedAdvisory
	for _, p := range pending {
		for i, tmp := range p.tmps {
			// A temporary file keeps its inode through the rename.
			if st, err := a.lstat(tmp); err == nil {
				next = append(next, recordedAdvisory{Path: p.names[i], Digest: p.desc.Digest, Size: p.desc.Size, File: fileID(st)})
			}
		}
	}
	if len(next) == 0 {
		return false, nil
	}
	interim := *rec
	interim.Files = nil
	if own != nil {
		interim = *own
		interim.Files = slices.Clone(own.Files)
		for _, f := range own.Pending {
			if st, err := a.lstat(f.Path); err == nil && fileID(st) == f.File {
				next = append(next, f)
			}
		}
	}
	interim.Pending = next
	data, err := encodeRecord(&interim)
	if err != nil || len(data) > maxAdvisoryRecord {
		return false, err
	}
	return true, a.writeRecord(data)
}

// prevBytes is the previous record as encodeRecord gives it.
func (a *advisoryWriter) prevBytes(prev *advisoryRecord) []byte {
	data, _ := encodeRecord(prev)
	return data
}

// logWithdrawn tells, on one line, how many advisories this bundle
// withdrew and what became of them, and names each one left because it is
// no longer what stella wrote.
func logWithdrawn(dir string, withdrawn []WithdrawnAdvisory, log *slog.Logger) {
	if len(withdrawn) == 0 {
		return
	}
	count := map[string]int{}
	for _, w := range withdrawn {
		count[w.State]++
		if w.State == WithdrawnChanged {
			log.Warn("withdrawn advisory left in place: it is not what stella wrote there (changed, or a symlink on its path); remove it by hand if the scanner must not read it", "file", w.Path)
		}
	}
	log.Warn("advisories withdrawn: the previous import wrote them and this bundle no longer lists them", "dir", dir, "withdrawn", len(withdrawn),
		WithdrawnRemoved, count[WithdrawnRemoved], WithdrawnKept, count[WithdrawnKept], WithdrawnChanged, count[WithdrawnChanged], WithdrawnGone, count[WithdrawnGone])
}

// warnUnrecorded says, for a directory with no record yet (the first
// import of this version into it), how many files it holds that this
// bundle does not list: an earlier stella's withdrawn advisories may be
// among them, which no record lets this one remove.
func (a *advisoryWriter) warnUnrecorded(carried map[string]bool, log *slog.Logger) {
	var others []string
	fs.WalkDir(a.root.FS(), ".", func(name string, e fs.DirEntry, err error) error {
		if err != nil || e.IsDir() || carried[name] || name == AdvisoryRecordName || strings.HasPrefix(path.Base(name), ".") && strings.Contains(path.Base(name), ".tmp-") {
			return nil
		}
		others = append(others, name)
		return nil
	})
	if len(others) > 0 {
		log.Warn("advisories directory holds files this bundle does not list, and no record of an earlier import's (written from now on): they are left; remove any withdrawn advisory among them by hand",
			"dir", a.dir, "files", len(others), "first", others[0])
	}
}

// fitRecord encodes rec, its files those placed plus as many of kept as
// keep it within maxAdvisoryRecord, and returns the kept it leaves out:
// --keep-withdrawn, release after release, would otherwise grow the record
// past what the next import reads, and that import, and every one after,
// would refuse the directory. The placed alone are within it (a bundle's
// manifest.json, of at most 4 MiB, names each in more bytes).
func fitRecord(rec *advisoryRecord, kept []recordedAdvisory) ([]byte, []recordedAdvisory, error) {
	placed := rec.Files
	encode := func(n int) ([]byte, error) {
		rec.Files = append(slices.Clone(placed), kept[:n]...)
		return encodeRecord(rec)
	}
	data, err := encode(len(kept))
	if err != nil || len(data) <= maxAdvisoryRecord {
		return data, nil, err
	}
	// The most of kept that fit: encode(lo) fits, encode(hi) does not.
	lo, hi := 0, len(kept)
	for hi-lo > 1 {
		mid := lo + (hi-lo)/2
		if data, err = encode(mid); err != nil {
			return nil, nil, err
		}
		if len(data) <= maxAdvisoryRecord {
			lo = mid
		} else {
			hi = mid
		}
	}
	data, err = encode(lo)
	return data, kept[lo:], err
}

// tempDirs lists the directories that pending's temporary files are in,
// each once, the advisories directory first; none when there are none.
func (a *advisoryWriter) tempDirs(pending []*pendingAdvisory) []string {
	seen := map[string]bool{}
	var dirs []string
	for _, p := range pending {
		for _, tmp := range p.tmps {
			if d := path.Dir(tmp); !seen[d] {
				seen[d] = true
				dirs = append(dirs, filepath.Join(a.dir, filepath.FromSlash(d)))
			}
		}
	}
	if len(dirs) == 0 {
		return nil
	}
	return append([]string{a.dir}, dirs...)
}
