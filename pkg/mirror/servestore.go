package mirror

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"time"

	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/stellaops/mirror/pkg/errdef"
	"github.com/stellaops/mirror/pkg/layout"
	"github.com/stellaops/mirror/pkg/serve"
)

// servedStore is a bundle opened for random access, as serve reads it: a
// directory, or a plain tar through its index. A volume set (issue 6) is a
// third implementation.
type servedStore interface {
	// ReadFile reads a head file (index.json, manifest.json, …), bounded.
	ReadFile(name string) ([]byte, error)
	// FetchBytes reads and verifies a manifest-sized blob.
	FetchBytes(ctx context.Context, desc ocispec.Descriptor) ([]byte, error)
	// Fetch opens a blob; the reader verifies size and digest as it reads.
	Fetch(ctx context.Context, desc ocispec.Descriptor) (io.ReadCloser, error)
	// OpenBlob opens a blob of desc's size for random access, unhashed.
	serve.BlobStore
	// offset orders blob reads: where a blob lies on the media.
	offset(desc ocispec.Descriptor) int64
	// changed returns an error if the media is known to have changed
	// since the store was opened.
	changed() error
	io.Closer
}

// openServedStore opens a bundle directory, a plain bundle tar, or a
// seekable .tar.zst. Any other compressed tar is refused (errdef.ErrUsage):
// it cannot be read at random.
func openServedStore(path string) (servedStore, error) {
	st, err := os.Stat(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, layout.NotThere(path)
	}
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, errdef.ErrNotFound)
	}
	if st.IsDir() {
		dir, err := layout.Open(path)
		if err != nil {
			return nil, err
		}
		return dirStore{dir}, nil
	}
	ra, size, err := openArchiveAt(path)
	if err != nil {
		return nil, err
	}
	return openTarStore(path, ra, size)
}

// openTarStore indexes the archive ra opened (size bytes of plain tar),
// and closes it unless that succeeds. A compressed one without a seek
// table is refused (errdef.ErrUsage).
func openTarStore(path string, ra readerAtCloser, size int64) (*tarStore, error) {
	if c := layout.SniffCompression(ra); c != layout.None {
		ra.Close()
		return nil, compressedError(path, c)
	}
	idx, err := layout.IndexTar(ra, size)
	if err != nil {
		err = volumeAtFault(ra, err)
		ra.Close()
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	t := &tarStore{TarIndex: idx, f: ra, path: path}
	if f := fileOf(ra); f != nil {
		st, err := f.Stat()
		if err != nil {
			ra.Close()
			return nil, err
		}
		t.file, t.stamp = f, st
	}
	return t, nil
}

// volumeAtFault returns, for an archive of split volumes that does not
// read as a tar, the error of the volume that differs from the signed
// volume list (a digest mismatch, naming it and, where it holds another
// volume of the set, that one: swapped or misnamed) rather than the tar's
// malformed header, and err where every volume is as listed, or the
// archive is one file.
func volumeAtFault(ra readerAtCloser, err error) error {
	if !errors.Is(err, errdef.ErrMalformed) {
		return err
	}
	v, ok := ra.(*layout.VolumesReaderAt)
	if a, isSeekable := ra.(seekableArchive); isSeekable {
		v, ok = a.file.(*layout.VolumesReaderAt)
	}
	if !ok {
		return err
	}
	if _, verr := v.CheckSpan(0, v.Size()); verr != nil {
		return verr
	}
	return err
}

// volumeAtFault is, for a source read at random from split volumes, the
// error of the volume that differs from the signed volume list where err
// is of content read from them (malformed, a digest mismatch): a volume
// of another set under the same name and size (a pack --split --force
// over the set cut short, a copy from the wrong medium) still reads as a
// tar, and what failed was an entry no part of the bundle, or a blob
// that hashes otherwise, which named no volume. err where every volume is
// as listed, or err names the volume already (a frame of compressed
// volumes that failed, with where in the archive).
func (s *source) volumeAtFault(err error) error {
	t, ok := s.store.(*tarStore)
	if !ok || !errors.Is(err, errdef.ErrMalformed) && !errors.Is(err, errdef.ErrDigestMismatch) || errors.Is(err, layout.ErrVolumeCorrupt) {
		return err
	}
	if s.placing && !errors.As(err, new(sourceContentError)) {
		return err // the target's (a registry's answer), not the volumes'
	}
	if verr := volumeAtFault(t.f, errdef.ErrMalformed); !errors.Is(verr, errdef.ErrMalformed) {
		return fmt.Errorf("%s: %w", s.name, verr)
	}
	return err
}

// sourceContentError marks an error of content read from the source while
// the bundle is placed: once the target is read and written, the one kind
// a volume of another set can cause, where the target's own (a registry's
// answer refused as malformed, a digest it names otherwise) must not cost
// a read of every volume again before it is told.
type sourceContentError struct{ error }

func (e sourceContentError) Unwrap() error { return e.error }

// fileOf returns the one file an archive is read from, if it is one (not
// volumes).
func fileOf(ra readerAtCloser) *os.File {
	switch a := ra.(type) {
	case *os.File:
		return a
	case seekableArchive:
		f, _ := a.file.(*os.File)
		return f
	}
	return nil
}

// readerAtCloser is an archive opened for random access.
type readerAtCloser interface {
	io.ReaderAt
	io.Closer
}

// openArchiveAt opens a tar file, or the archive a volume list's volumes
// hold, for random access; a seekable .tar.zst or .tar.gz (as pack writes
// them, whole or split into volumes) is opened as the plain tar it holds.
func openArchiveAt(path string) (readerAtCloser, int64, error) {
	ra, size, err := openArchiveFile(path)
	if err != nil {
		return ra, size, err
	}
	z, ok, err := layout.OpenSeekable(ra, size)
	if err != nil {
		ra.Close()
		return nil, 0, fmt.Errorf("%s: %w", path, err)
	}
	if !ok {
		return ra, size, nil
	}
	return seekableArchive{z, ra}, z.Size(), nil
}

// seekableArchive is a seekable compressed archive read as its tar.
type seekableArchive struct {
	*layout.Seekable
	file io.Closer
}

func (a seekableArchive) Close() error {
	a.Seekable.Close()
	return a.file.Close()
}

// openArchiveFile opens the archive's bytes as they lie on the media.
func openArchiveFile(path string) (readerAtCloser, int64, error) {
	if layout.IsVolumeList(path) {
		vs, _, err := layout.OpenVolumeSet(path)
		if err != nil {
			return nil, 0, err
		}
		ra, err := vs.ReaderAt()
		if err != nil {
			return nil, 0, err
		}
		return ra, ra.Size(), nil
	}
	if err := layout.NotAVolume(path); err != nil {
		return nil, 0, err
	}
	f, st, err := layout.OpenArchive(path)
	if err != nil {
		return nil, 0, err
	}
	return f, st.Size(), nil
}

// compressedError says why a compressed tar cannot be served and how to
// get one that can: the plain tar is exactly the archive decompressed, the
// same bytes pack writes without compression. An archive pack wrote and a
// copy cut short (its seek table is at the end) look alike from here; verify
// tells them apart, reading it as a stream.
func compressedError(path string, c layout.Compression) error {
	if layout.IsVolumeList(path) {
		return fmt.Errorf("the volumes of %s are %s-compressed without a seek table, and cannot be read at random: pack the bundle again (stella mirror pack DIR --output FILE.tar.zst --split SIZE), then serve that: %w",
			path, c, errdef.ErrUsage)
	}
	tool := map[layout.Compression]string{layout.Gzip: "gzip -dk", layout.Zstd: "zstd -d"}[c]
	return fmt.Errorf("%s is %s-compressed without a seek table, and cannot be read at random: another tool's archive (decompress it once, %s %s, or pack the bundle again, stella mirror pack DIR --output FILE.tar, then serve that), or one pack wrote that was cut short, its table lost with its end (stella mirror verify %s --key PUB says truncated: copy it again): %w",
		path, c, tool, path, path, errdef.ErrUsage)
}

// dirStore serves a bundle directory: each blob from its own file.
type dirStore struct{ *layout.Dir }

func (d dirStore) OpenBlob(_ context.Context, desc ocispec.Descriptor) (serve.Blob, error) {
	f, err := d.Dir.OpenBlob(desc)
	if err != nil {
		return nil, err
	}
	return fileBlob{io.NewSectionReader(f, 0, desc.Size), f}, nil
}

func (dirStore) offset(ocispec.Descriptor) int64 { return 0 }
func (dirStore) changed() error                  { return nil }
func (d dirStore) Close() error                  { return d.Dir.Close() }

// fileBlob is a blob file opened for one request.
type fileBlob struct {
	*io.SectionReader
	f *os.File
}

func (b fileBlob) Close() error { return b.f.Close() }

// tarStore serves a plain tar: every blob is a section of the one file,
// read at its offset, so requests never share a file position.
type tarStore struct {
	*layout.TarIndex
	f    readerAtCloser
	path string
	// file is the archive's one file, and stamp what it was when opened,
	// before anything of it was verified.
	file  *os.File
	stamp os.FileInfo
}

// Trailing reads what follows the end of the archive's tar: for a seekable
// .tar.zst or .tar.gz, the bytes appended after its seek table (the table found
// before them), else what the index finds after the tar's end.
func (t *tarStore) Trailing() (layout.Trailing, error) {
	if z, ok := t.f.(seekableArchive); ok {
		if tr, err := z.Seekable.Trailing(); err != nil || tr.Found() {
			return tr, err
		}
	}
	return t.TarIndex.Trailing()
}

// OpenBlob opens a blob for serving, unless the archive file was written
// to since it was opened. The file is held open, so an archive replaced by
// a new file under its name (pack --force, create --output F.tar) changes
// nothing of what is read; one written over in place (cp of another
// archive onto it) holds other bytes at the offsets indexed and verified,
// which would be sent under the digests asked for.
func (t *tarStore) OpenBlob(_ context.Context, desc ocispec.Descriptor) (serve.Blob, error) {
	if err := t.changed(); err != nil {
		return nil, err
	}
	return t.TarIndex.OpenBlob(desc)
}

// changed compares the archive file's size and modification time with
// those it had when it was opened.
func (t *tarStore) changed() error {
	if t.file == nil {
		return nil
	}
	st, err := t.file.Stat()
	if err != nil {
		return err
	}
	if st.Size() != t.stamp.Size() || !st.ModTime().Equal(t.stamp.ModTime()) {
		return fmt.Errorf("%s was written to after it was opened and verified (modified %s, now %s): restart to verify it again: %w",
			t.path, t.stamp.ModTime().Format(time.RFC3339Nano), st.ModTime().Format(time.RFC3339Nano), errdef.ErrDigestMismatch)
	}
	return nil
}

func (t *tarStore) offset(desc ocispec.Descriptor) int64 {
	e, _ := t.Entry(layout.BlobName(desc.Digest))
	return e.Offset
}

func (t *tarStore) Close() error { return t.f.Close() }
