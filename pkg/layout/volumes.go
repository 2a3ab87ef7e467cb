package layout

import (
	"crypto/sha256"
	"errors"
	"fmt"
	"hash"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"

	"github.com/opencontainers/go-digest"

	"github.com/stellaops/mirror/pkg/bundle"
	"github.com/stellaops/mirror/pkg/errdef"
)

// VolumesSuffix ends the name of a volume list: bundle.tar.zst is split
// into bundle.tar.zst.000, .001, … listed in bundle.tar.zst.volumes.json.
const VolumesSuffix = ".volumes.json"

// maxVolumes bounds a volume list (a 100 TB bundle on 4 GiB sticks fits).
const maxVolumes = 100000

// VolumeSet lists the volumes of a split archive with their sizes and
// SHA-256, so each can be checked on its own and the set streamed back
// without reassembly.
type VolumeSet struct {
	SchemaVersion int      `json:"schemaVersion"`
	Archive       string   `json:"archive"`
	VolumeSize    int64    `json:"volumeSize"`
	Size          int64    `json:"size"`
	Volumes       []Volume `json:"volumes"`

	dir string
}

// Volume is one part of a split archive.
type Volume struct {
	Name   string        `json:"name"`
	Size   int64         `json:"size"`
	Digest digest.Digest `json:"digest"`
}

// IsVolumeList reports whether path names a volume list.
func IsVolumeList(path string) bool { return strings.HasSuffix(path, VolumesSuffix) }

// NotAVolume refuses path when it is one volume of a split archive whose
// list lies beside it (bundle.tar.zst.000 beside
// bundle.tar.zst.volumes.json): the first file an operator sees on the
// medium, which read alone looks like a damaged archive. The error names
// the list to give instead (errdef.ErrUsage), or, where only the record of
// a pack --split that did not finish lies beside it (MarkPending), says to
// run that pack again.
func NotAVolume(path string) error {
	ext := filepath.Ext(path)
	if len(ext) < 4 || strings.Trim(ext[1:], "0123456789") != "" {
		return nil
	}
	archive := strings.TrimSuffix(path, ext)
	list := archive + VolumesSuffix
	if _, err := os.Lstat(list); err != nil {
		// A pack --split stopped before its list took its name (killed,
		// a power cut) left its volumes and the record of them: read
		// alone, the first reads as a damaged archive (exit 11).
		if _, perr := os.Lstat(pendingPath(archive)); perr == nil {
			return fmt.Errorf("%s is one volume of a split archive whose pack --split did not finish: its list, %s, was never written (%s records the set): run that pack again, which writes it: %w",
				path, list, pendingPath(archive), errdef.ErrUsage)
		}
		// The volumes copied without their list: read alone, the first
		// is cut short (exit 11, a damaged medium) and any other is no
		// tar at all. Another volume of the same archive beside it says
		// which it is; a file so named alone is anyone's, read as given.
		if sibling := otherVolume(archive, ext[1:]); sibling != "" {
			return fmt.Errorf("%s is one volume of a split archive (%s lies beside it): give its list, %s, which reads every volume (pack --split wrote it beside them: copy it with them): %w",
				path, sibling, list, errdef.ErrUsage)
		}
		return nil
	}
	return fmt.Errorf("%s is one volume of a split archive: give its list, %s, which reads every volume: %w", path, list, errdef.ErrUsage)
}

// otherVolume returns the name of the volume before or after volume num of
// archive (num as its name spells it) where one lies beside it as a
// regular file, or "".
func otherVolume(archive, num string) string {
	n, err := strconv.Atoi(num)
	if err != nil {
		return ""
	}
	for _, i := range []int{n - 1, n + 1} {
		if i < 0 {
			continue
		}
		name := VolumeName(archive, i)
		if st, err := os.Lstat(name); err == nil && st.Mode().IsRegular() {
			return name
		}
	}
	return ""
}

// ParseVolumeSet reads a volume list strictly: in the canonical form
// Marshal writes, every volume name the archive's name with a three-digit
// number (or more), in order, with a valid size and digest.
func ParseVolumeSet(path string, data []byte) (*VolumeSet, error) {
	bad := func(format string, args ...any) error {
		return fmt.Errorf("%s: "+format+": %w", append([]any{path}, append(args, errdef.ErrMalformed)...)...)
	}
	if len(data) > bundle.MaxManifestSize {
		return nil, bad("larger than %d bytes", bundle.MaxManifestSize)
	}
	if err := bundle.CheckSchemaVersion(path, data, bundle.VolumeListVersion); err != nil {
		return nil, err
	}
	var vs VolumeSet
	// Exactly the bytes Marshal writes, as for manifest.json, a catalog or
	// an inventory: the list is signed, and a key given twice would read
	// as its last here and as another to a reviewer's tool.
	if err := bundle.DecodeCanonical(data, &vs); err != nil {
		// err names what is wrong (an unknown field, the byte where the
		// form departs from Marshal's) and wraps errdef.ErrMalformed.
		return nil, fmt.Errorf("%s: not a volume list as pack --split writes it: %w", path, err)
	}
	if vs.SchemaVersion != bundle.VolumeListVersion || vs.VolumeSize <= 0 || len(vs.Volumes) == 0 || len(vs.Volumes) > maxVolumes {
		return nil, bad("not a volume list")
	}
	if vs.Archive != strings.TrimSuffix(filepath.Base(path), VolumesSuffix) {
		return nil, bad("archive %q does not match the list's name", vs.Archive)
	}
	var total int64
	for i, v := range vs.Volumes {
		if v.Name != VolumeName(vs.Archive, i) {
			return nil, bad("volume %d is named %q, want %q", i, v.Name, VolumeName(vs.Archive, i))
		}
		if v.Size <= 0 || v.Size > vs.VolumeSize || (i < len(vs.Volumes)-1 && v.Size != vs.VolumeSize) {
			return nil, bad("volume %s has size %d (volume size %d)", v.Name, v.Size, vs.VolumeSize)
		}
		if v.Digest.Validate() != nil || v.Digest.Algorithm() != digest.SHA256 {
			return nil, bad("volume %s has digest %q", v.Name, v.Digest)
		}
		total += v.Size
	}
	if total != vs.Size {
		return nil, bad("volumes add up to %d bytes, the list says %d", total, vs.Size)
	}
	vs.dir = filepath.Dir(path)
	return &vs, nil
}

// OpenVolumeSet reads and parses a volume list from disk.
func OpenVolumeSet(path string) (*VolumeSet, []byte, error) {
	data, err := readSmallFile(path)
	if err != nil {
		return nil, nil, err
	}
	vs, err := ParseVolumeSet(path, data)
	return vs, data, err
}

func readSmallFile(path string) ([]byte, error) {
	f, err := openRegular(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, bundle.MaxManifestSize+1))
	if err == nil && len(data) > bundle.MaxManifestSize {
		err = fmt.Errorf("%s: larger than %d bytes: %w", path, bundle.MaxManifestSize, errdef.ErrMalformed)
	}
	return data, err
}

// VolumeName is the name of the archive's volume i (archive.000, archive.001, …).
func VolumeName(archive string, i int) string { return fmt.Sprintf("%s.%03d", archive, i) }

// Path returns where volume v is.
func (vs *VolumeSet) Path(v Volume) string { return filepath.Join(vs.dir, v.Name) }

// CheckPresent checks that every volume is there with its size, naming the
// first that is missing or the wrong size. It reads nothing.
func (vs *VolumeSet) CheckPresent() error {
	for _, v := range vs.Volumes {
		st, err := os.Stat(vs.Path(v))
		if errors.Is(err, fs.ErrNotExist) {
			return vs.missing(v)
		}
		if err != nil {
			return err
		}
		if !st.Mode().IsRegular() {
			// Told as openRegular tells it, before its size (a named
			// pipe's is 0) is taken for a truncated volume.
			return fmt.Errorf("volume %s: %s: not a regular file (%s): %w", v.Name, vs.Path(v), FileKind(st.Mode()), errdef.ErrMalformed)
		}
		if st.Size() > v.Size {
			// Bytes appended to it (a copy tool's padding, cat >>)? Its
			// first bytes, hashed, tell.
			if err := vs.Check(v); errors.As(err, new(volumeAppended)) {
				return err
			}
		}
		if st.Size() != v.Size {
			return fmt.Errorf("volume %s has %d bytes, the list says %d%s: %w", v.Name, st.Size(), v.Size, vs.sizeOf(v, st.Size()), errdef.ErrDigestMismatch)
		}
	}
	return nil
}

// missing names a volume that is not there with the directory it was
// looked for in, the list's (absolute, however the list was named):
// volumes copied from several media go beside their list, and the name
// alone does not say where that was.
func (vs *VolumeSet) missing(v Volume) error {
	dir, err := filepath.Abs(vs.dir)
	if err != nil {
		dir = vs.dir
	}
	return fmt.Errorf("volume %s is missing from %s, the directory of its list (every volume goes beside it): %w", v.Name, dir, errdef.ErrNotFound)
}

// sizeOf says, when size is the size of exactly one other volume of the
// set (the last, shorter one, say), that v may be it under another name:
// volumes copied one by one from several media are easily misnamed.
func (vs *VolumeSet) sizeOf(v Volume, size int64) string {
	var other []string
	for _, o := range vs.Volumes {
		if o.Name != v.Name && o.Size == size {
			other = append(other, o.Name)
		}
	}
	if len(other) != 1 {
		return ""
	}
	return fmt.Sprintf(", the size of %s (volumes swapped or misnamed? each must be under its own name)", other[0])
}

// holding says, when got is the digest of another volume of the set, that
// v's file holds that volume: swapped or misnamed, not corrupt.
func (vs *VolumeSet) holding(v Volume, got digest.Digest) string {
	for _, o := range vs.Volumes {
		if o.Name != v.Name && o.Digest == got {
			return fmt.Sprintf(" (it holds %s: volumes swapped or misnamed? each must be under its own name)", o.Name)
		}
	}
	return ""
}

// Check hashes one volume and compares it with the list.
func (vs *VolumeSet) Check(v Volume) error {
	f, err := openRegular(vs.Path(v))
	if errors.Is(err, errdef.ErrNotFound) {
		return vs.missing(v)
	}
	if err != nil {
		return fmt.Errorf("volume %s: %w", v.Name, err)
	}
	defer f.Close()
	h := sha256.New()
	buf := make([]byte, copyBufferSize)
	n, err := copyBuffered(h, io.LimitReader(f, v.Size), buf)
	if err != nil {
		return fmt.Errorf("volume %s: %w", v.Name, err)
	}
	prefix := digest.NewDigest(digest.SHA256, h)
	more, err := copyBuffered(h, f, buf)
	if err != nil {
		return fmt.Errorf("volume %s: %w", v.Name, err)
	}
	if n == v.Size && prefix == v.Digest && more > 0 {
		// The volume the list names, whole, with bytes after it: no
		// reader reads them, but the volume is not the one pack wrote.
		return volumeCorrupt{volumeAppended{fmt.Errorf("volume %s holds the %d bytes its list says, hashing right, and %d bytes appended after them (a copy's padding, cat >>): truncate -s %d %s gives it back: %w",
			v.Name, v.Size, more, v.Size, vs.Path(v), errdef.ErrDigestMismatch)}}
	}
	n += more
	if got := digest.NewDigest(digest.SHA256, h); n != v.Size || got != v.Digest {
		return volumeCorrupt{fmt.Errorf("volume %s is corrupt: %d bytes hashing to %s, the list says %d bytes, %s%s: %w", v.Name, n, got, v.Size, v.Digest, vs.holding(v, got), errdef.ErrDigestMismatch)}
	}
	return nil
}

// Open returns the archive the volumes hold, read across them in order
// with no reassembly on disk. Each volume is hashed as it is read; the
// read that ends a bad volume fails naming it, and every other error is
// annotated with the volume being read.
func (vs *VolumeSet) Open() (io.ReadCloser, error) {
	if err := vs.CheckPresent(); err != nil {
		return nil, err
	}
	return &volumeReader{vs: vs}, nil
}

type volumeReader struct {
	vs   *VolumeSet
	i    int
	f    *os.File
	h    hash.Hash
	n    int64
	done bool
}

func (r *volumeReader) Read(p []byte) (int, error) {
	if len(p) == 0 {
		return 0, nil
	}
	for {
		if r.done || r.i >= len(r.vs.Volumes) {
			return 0, io.EOF
		}
		v := r.vs.Volumes[r.i]
		if r.f == nil {
			f, err := openRegular(r.vs.Path(v))
			if err != nil {
				return 0, fmt.Errorf("volume %s: %w", v.Name, err)
			}
			r.f, r.h, r.n = f, sha256.New(), 0
		}
		buf := p
		if rem := v.Size - r.n; int64(len(buf)) > rem {
			buf = buf[:rem]
		}
		if len(buf) > 0 {
			n, err := r.f.Read(buf)
			r.h.Write(buf[:n])
			r.n += int64(n)
			if n > 0 {
				return n, nil
			}
			if err != nil && err != io.EOF {
				return 0, fmt.Errorf("volume %s: %w", v.Name, err)
			}
		}
		// The volume is read: it must be whole and hash right.
		r.f.Close()
		r.f = nil
		if got := digest.NewDigest(digest.SHA256, r.h); r.n != v.Size || got != v.Digest {
			r.done = true
			return 0, volumeCorrupt{fmt.Errorf("volume %s is corrupt (%d bytes, %s; the list says %d, %s)%s: %w", v.Name, r.n, got, v.Size, v.Digest, r.vs.holding(v, got), errdef.ErrDigestMismatch)}
		}
		r.i++
	}
}

// CheckCurrent hashes the whole volume being read (those before it were
// checked as they ended), to find whether it is at fault for an archive
// that does not read right there: its error, or nil.
func (r *volumeReader) CheckCurrent() error {
	if r.i < len(r.vs.Volumes) {
		return r.vs.Check(r.vs.Volumes[r.i])
	}
	return nil
}

// Current names the volume being read, for error messages.
func (r *volumeReader) Current() string {
	if r.i < len(r.vs.Volumes) {
		return r.vs.Volumes[r.i].Name
	}
	return r.vs.Archive
}

func (r *volumeReader) Close() error {
	if r.f != nil {
		return r.f.Close()
	}
	return nil
}

// SplitWriter writes an archive as volumes of at most size bytes (out.000,
// out.001, …), each through a temporary file renamed into place by Commit,
// hashing each as it goes.
type SplitWriter struct {
	out  string // the archive's path; volumes are out.NNN
	size int64
	vols []Volume
	tmps []string
	// held are the volumes written, kept open (so locked, CreateTemp)
	// until Commit or Abort.
	held  []*os.File
	f     *os.File
	wb    *Writeback // writes to f
	h     hash.Hash
	n     int64
	total int64
}

func (w *SplitWriter) Write(p []byte) (int, error) {
	written := 0
	for len(p) > 0 {
		if w.f == nil || w.n == w.size {
			if err := w.rotate(); err != nil {
				return written, err
			}
		}
		chunk := p
		if rem := w.size - w.n; int64(len(chunk)) > rem {
			chunk = chunk[:rem]
		}
		n, err := w.wb.Write(chunk)
		w.h.Write(chunk[:n])
		w.n += int64(n)
		w.total += int64(n)
		written += n
		if err != nil {
			return written, w.sizeLimit(err)
		}
		p = p[n:]
	}
	return written, nil
}

func (w *SplitWriter) rotate() error {
	if err := w.finish(); err != nil {
		return w.sizeLimit(err)
	}
	name := VolumeName(filepath.Base(w.out), len(w.vols))
	f, err := CreateTemp(filepath.Join(filepath.Dir(w.out), name))
	if err != nil {
		return OutOfRoom(filepath.Join(filepath.Dir(w.out), name), AdviceArchive, err)
	}
	w.held = append(w.held, f)
	w.f, w.wb, w.h, w.n = f, NewWriteback(f), sha256.New(), 0
	w.tmps = append(w.tmps, f.Name())
	w.vols = append(w.vols, Volume{Name: name})
	return nil
}

// sizeLimit names the volume being written in err when it met the
// medium's file-size limit (it is below the volume size asked for), or
// found the medium full (then with what the medium took of the set).
func (w *SplitWriter) sizeLimit(err error) error {
	if len(w.vols) == 0 {
		return err
	}
	path := filepath.Join(filepath.Dir(w.out), w.vols[len(w.vols)-1].Name)
	err = OutOfRoom(path, fmt.Sprintf("it is under the volume size, --split %d bytes: pack with a smaller --split SIZE", w.size), err)
	if full := (*NoSpaceError)(nil); errors.As(err, &full) && !full.Inodes {
		full.Took, full.Volume = w.total, w.size
	}
	return err
}

// finish closes the volume being written.
func (w *SplitWriter) finish() error {
	if w.f == nil {
		return nil
	}
	if err := w.f.Sync(); err != nil {
		return err
	}
	v := &w.vols[len(w.vols)-1]
	v.Size, v.Digest = w.n, digest.NewDigest(digest.SHA256, w.h)
	w.f = nil
	return nil
}

// NewSplitWriter starts the volumes of the archive out.
func NewSplitWriter(out string, size int64) *SplitWriter { return &SplitWriter{out: out, size: size} }

// Finish closes the last volume and returns the list. The volumes keep
// their temporary names until Commit.
func (w *SplitWriter) Finish() (*VolumeSet, error) {
	if err := w.finish(); err != nil {
		return nil, w.sizeLimit(err)
	}
	return &VolumeSet{SchemaVersion: bundle.VolumeListVersion, Archive: filepath.Base(w.out), VolumeSize: w.size, Size: w.total, Volumes: w.vols, dir: filepath.Dir(w.out)}, nil
}

// Commit renames every volume into place (Abort then removes none), and
// removes the volumes past the last that a larger set written before left
// (out.NNN, up to the first missing, last first), so that the names hold
// one set.
func (w *SplitWriter) Commit() error {
	if err := w.finish(); err != nil {
		return err
	}
	dir := filepath.Dir(w.out)
	defer w.release()
	for len(w.tmps) > 0 {
		tmp, name := w.tmps[0], w.vols[len(w.vols)-len(w.tmps)].Name
		if err := os.Chmod(tmp, 0o644); err != nil {
			return err
		}
		if err := os.Rename(tmp, filepath.Join(dir, name)); err != nil {
			return err
		}
		w.tmps = w.tmps[1:]
	}
	// Last first: a commit stopped among them (killed, EIO) leaves the
	// ones still there in a row after the new set, where the next commit
	// finds them all; first to last, it left a gap the next stopped at,
	// and the rest for good.
	end := len(w.vols)
	for ; ; end++ {
		_, err := os.Lstat(filepath.Join(dir, VolumeName(filepath.Base(w.out), end)))
		if errors.Is(err, fs.ErrNotExist) {
			break
		}
		if err != nil {
			return err
		}
	}
	for i := end - 1; i >= len(w.vols); i-- {
		if err := os.Remove(filepath.Join(dir, VolumeName(filepath.Base(w.out), i))); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return err
		}
	}
	return SyncDir(dir)
}

// Abort removes the temporary volumes.
func (w *SplitWriter) Abort() {
	w.release()
	for _, tmp := range w.tmps {
		os.Remove(tmp)
	}
}

// release closes the volumes' files (their locks go with them).
func (w *SplitWriter) release() {
	for _, f := range w.held {
		f.Close()
	}
	w.held, w.f = nil, nil
}

// Marshal returns the list's canonical JSON.
func (vs *VolumeSet) Marshal() ([]byte, error) { return bundle.Canonical(vs) }

// VolumesReaderAt is the archive a volume set holds, for random access (a
// plain tar served or imported from split media): reads at any offset go
// to the volume that holds it, across boundaries.
type VolumesReaderAt struct {
	files   []*os.File
	vs      *VolumeSet
	volSize int64
	size    int64
	// checks hashes each volume at most once for CheckSpan, however many
	// readers fail on it at once.
	checks []func() error
}

// ReaderAt opens every volume (after checking each is there with its
// size). Contents are not hashed here: whoever reads blobs verifies them.
func (vs *VolumeSet) ReaderAt() (*VolumesReaderAt, error) {
	if err := vs.CheckPresent(); err != nil {
		return nil, err
	}
	r := &VolumesReaderAt{vs: vs, volSize: vs.VolumeSize, size: vs.Size}
	for _, v := range vs.Volumes {
		r.checks = append(r.checks, sync.OnceValue(func() error { return vs.Check(v) }))
		f, err := openRegular(vs.Path(v))
		if err != nil {
			r.Close()
			return nil, fmt.Errorf("volume %s: %w", v.Name, err)
		}
		r.files = append(r.files, f)
	}
	return r, nil
}

// CheckSpan hashes the volumes that hold archive bytes [off, off+n) (each
// once for the reader's life), to find which is at fault for a corrupt
// stretch there: it names them ("X" or "X–Y") and returns the error
// (ErrDigestMismatch) of the first that differs from the list.
func (r *VolumesReaderAt) CheckSpan(off, n int64) (string, error) {
	last := int64(len(r.vs.Volumes) - 1)
	first := min(max(off, 0)/r.volSize, last)
	end := min(max(off+n-1, off)/r.volSize, last)
	names := r.vs.Volumes[first].Name
	if end > first {
		names += "–" + r.vs.Volumes[end].Name
	}
	for _, check := range r.checks[first : end+1] {
		if err := check(); err != nil {
			return names, err
		}
	}
	return names, nil
}

// ReadAt implements io.ReaderAt.
func (r *VolumesReaderAt) ReadAt(p []byte, off int64) (int, error) {
	if off < 0 {
		return 0, fmt.Errorf("negative offset")
	}
	read := 0
	for len(p) > 0 {
		if off >= r.size {
			return read, io.EOF
		}
		i := off / r.volSize
		in := off - i*r.volSize
		chunk := p
		if rem := r.volSize - in; int64(len(chunk)) > rem {
			chunk = chunk[:rem]
		}
		n, err := r.files[i].ReadAt(chunk, in)
		read += n
		off += int64(n)
		p = p[n:]
		if err != nil && !(err == io.EOF && n == len(chunk)) {
			if err == io.EOF {
				err = io.ErrUnexpectedEOF
			}
			return read, err
		}
	}
	return read, nil
}

// Size is the archive's size.
func (r *VolumesReaderAt) Size() int64 { return r.size }

// Close closes every volume.
func (r *VolumesReaderAt) Close() error {
	for _, f := range r.files {
		f.Close()
	}
	return nil
}

// volumeAppended is a volume's error where it holds the volume its list
// names with bytes after it (a digest mismatch: it is not the volume pack
// wrote).
type volumeAppended struct{ error }

func (e volumeAppended) Unwrap() error { return e.error }

// ErrVolumeCorrupt marks an error that names a volume whose bytes differ
// from its volume list's (errdef.ErrDigestMismatch too): whoever wraps it
// has the volume at fault named already.
var ErrVolumeCorrupt = errors.New("volume corrupt")

// volumeCorrupt is an error naming a corrupt volume (ErrVolumeCorrupt).
type volumeCorrupt struct{ error }

func (e volumeCorrupt) Unwrap() error      { return e.error }
func (volumeCorrupt) Is(target error) bool { return target == ErrVolumeCorrupt }
