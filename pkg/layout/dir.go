package layout

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"

	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/stellaops/mirror/pkg/bundle"
	"github.com/stellaops/mirror/pkg/errdef"
)

// File names of a bundle directory.
const (
	OCILayoutFile    = ocispec.ImageLayoutFile // "oci-layout"
	IndexFile        = "index.json"
	ManifestFile     = "manifest.json"
	EnvelopeFile     = "manifest.dsse"
	PublicKeyFile    = "public-key.pem"
	ChecksumsFile    = "SHA256SUMS"
	ChecksumsSigFile = "SHA256SUMS.sig"
	BlobsDir         = "blobs"
)

// ociLayoutContent is the fixed content of the oci-layout file.
var ociLayoutContent = []byte(`{"imageLayoutVersion":"1.0.0"}` + "\n")

// Dir is a bundle directory. Every read verifies what it returns: blobs
// against their digest and size, documents against MaxManifestSize.
type Dir struct {
	root string
	ext  external
	dirs dirCache
}

// Open opens an existing bundle directory; it must hold an oci-layout file.
func Open(root string) (*Dir, error) {
	st, err := os.Lstat(filepath.Join(root, OCILayoutFile))
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			if err := missingBundle(root); err != nil {
				return nil, err
			}
			return nil, fmt.Errorf("%s: not a bundle directory (no %s): %w", root, OCILayoutFile, errdef.ErrNotFound)
		}
		if st, serr := os.Stat(root); serr == nil && !st.IsDir() {
			// An archive named where its directory is wanted: say so,
			// rather than "lstat FILE/oci-layout: not a directory".
			return nil, fmt.Errorf("%s: a file, not a bundle directory (an archive? this command reads the directory it was packed from): %w", root, errdef.ErrUsage)
		}
		return nil, fmt.Errorf("%s: %w", root, err)
	}
	if !st.Mode().IsRegular() {
		return nil, fmt.Errorf("%s: %s is not a regular file (%s): %w", root, OCILayoutFile, FileKind(st.Mode()), errdef.ErrMalformed)
	}
	return &Dir{root: root}, nil
}

// OpenTree opens a directory of files that is not a bundle (the advisory
// feed create copies) for Open: a file below root is reached through no
// symlink at any level, and must be a regular file, however the tree
// changes between a walk listing it and its open. Close the Dir after use.
func OpenTree(root string) *Dir { return &Dir{root: root} }

// Path returns the directory's path.
func (d *Dir) Path() string { return d.root }

// BlobPath returns where the blob dg lives in the directory. (Read it with
// Fetch or OpenBlob, which refuse a symlink on the way.)
func (d *Dir) BlobPath(dg digest.Digest) string {
	return filepath.Join(d.root, BlobsDir, dg.Algorithm().String(), dg.Encoded())
}

// BlobName returns the slash-separated path of a blob inside a bundle.
func BlobName(dg digest.Digest) string {
	return BlobsDir + "/" + dg.Algorithm().String() + "/" + dg.Encoded()
}

// Fetch opens the blob desc names. The returned reader verifies size and
// digest as it is read (bundle.VerifyReader).
func (d *Dir) Fetch(_ context.Context, desc ocispec.Descriptor) (io.ReadCloser, error) {
	if err := desc.Digest.Validate(); err != nil {
		return nil, fmt.Errorf("digest %q: %v: %w", desc.Digest, err, errdef.ErrMalformed)
	}
	f, err := d.openFile(BlobName(desc.Digest))
	if err != nil {
		return nil, err
	}
	return struct {
		io.Reader
		io.Closer
	}{bundle.NewVerifyReader(f, desc), f}, nil
}

// OpenBlob opens the blob desc names for random access, after checking that
// it is a regular file (not a symlink) of desc's size. It does not hash it;
// Fetch does.
func (d *Dir) OpenBlob(desc ocispec.Descriptor) (*os.File, error) {
	if desc.Digest.Validate() != nil || desc.Digest.Algorithm() != digest.SHA256 {
		return nil, fmt.Errorf("digest %q is not a valid sha256 digest: %w", desc.Digest, errdef.ErrMalformed)
	}
	f, st, err := d.openFileStat(BlobName(desc.Digest))
	if err != nil {
		return nil, err
	}
	if st.Size() != desc.Size {
		f.Close()
		return nil, fmt.Errorf("%s: %d bytes, its descriptor says %d: %w", f.Name(), st.Size(), desc.Size, errdef.ErrDigestMismatch)
	}
	return f, nil
}

// Exists reports whether the blob desc names is present with the right size.
// It does not hash it; Fetch does.
func (d *Dir) Exists(_ context.Context, desc ocispec.Descriptor) (bool, error) {
	if ext, ok := d.External(desc.Digest); ok {
		return ext.Size == desc.Size, nil
	}
	if desc.Digest.Validate() != nil {
		return false, fmt.Errorf("digest %q: not a valid digest: %w", desc.Digest, errdef.ErrMalformed)
	}
	regular, size, err := d.lstat(BlobName(desc.Digest))
	if errors.Is(err, fs.ErrNotExist) || errors.Is(err, errdef.ErrNotFound) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	return regular && size == desc.Size, nil
}

// FetchBytes reads and verifies a document-sized blob.
func (d *Dir) FetchBytes(ctx context.Context, desc ocispec.Descriptor) ([]byte, error) {
	rc, err := d.Fetch(ctx, desc)
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	return bundle.ReadAll(rc, desc, bundle.MaxManifestSize)
}

// Push writes a blob, streaming it through a temporary file that is renamed
// into place only after its size and digest verified. A blob already present
// is read and discarded so that r is always consumed.
func (d *Dir) Push(_ context.Context, desc ocispec.Descriptor, r io.Reader) error {
	if err := desc.Digest.Validate(); err != nil {
		return fmt.Errorf("digest %q: %v: %w", desc.Digest, err, errdef.ErrMalformed)
	}
	final := d.BlobPath(desc.Digest)
	dir := filepath.Dir(final)
	if err := mkdirAll(dir); err != nil {
		return err
	}
	tmp, err := os.CreateTemp(dir, ".tmp-"+desc.Digest.Encoded()[:12]+"-")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	buf := getCopyBuffer()
	defer putCopyBuffer(buf)
	// Its writeback started as it is written, so that the bundle's sync at
	// its commit (Staging.Commit) finds little left to write.
	wb := NewWriteback(tmp)
	if _, err := io.CopyBuffer(wb, bundle.NewVerifyReader(r, desc), buf); err != nil {
		tmp.Close()
		return err
	}
	wb.Start()
	if err := tmp.Close(); err != nil {
		return err
	}
	if err := os.Chmod(tmp.Name(), 0o644); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), final)
}

// copyBufferSize is the buffer each blob copy uses: large enough that
// syscalls do not dominate, small enough that concurrency × buffer stays in
// the low megabytes.
const copyBufferSize = 256 << 10

// copyBuffers recycles the copy buffers of the per-file copies: a bundle of
// many small blobs otherwise allocates (and zeroes) copyBufferSize for each
// of them, gigabytes for a few thousand images of a few kilobytes.
var copyBuffers = sync.Pool{New: func() any { return new([copyBufferSize]byte) }}

func getCopyBuffer() []byte { return copyBuffers.Get().(*[copyBufferSize]byte)[:] }

func putCopyBuffer(b []byte) { copyBuffers.Put((*[copyBufferSize]byte)(b)) }

// copyBuffered copies src to dst through buf. io.CopyBuffer leaves buf
// unused when src has WriteTo or dst has ReadFrom, as an *os.File has both:
// the file then copies through a 32 KiB buffer allocated for the call, so
// that hashing a bundle's files took eight times the reads of copyBuffer-
// Size and an allocation a file (pack of 743 files: 26,843 reads, 21 MB).
func copyBuffered(dst io.Writer, src io.Reader, buf []byte) (int64, error) {
	return io.CopyBuffer(struct{ io.Writer }{dst}, struct{ io.Reader }{src}, buf)
}

// PushBytes writes a small blob held in memory.
func (d *Dir) PushBytes(ctx context.Context, desc ocispec.Descriptor, data []byte) error {
	return d.Push(ctx, desc, strings.NewReader(string(data)))
}

// ReadFile reads a metadata file of the bundle (index.json, manifest.json,
// manifest.dsse, SHA256SUMS, …): a regular file reached through no symlink,
// at most bundle.MaxManifestSize bytes.
func (d *Dir) ReadFile(name string) ([]byte, error) {
	if err := bundle.ValidPath(name); err != nil {
		return nil, fmt.Errorf("%v: %w", err, errdef.ErrMalformed)
	}
	f, err := d.openFile(name)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	data, err := readBoundedFile(f, bundle.MaxManifestSize)
	if err != nil {
		return nil, err
	}
	if len(data) > bundle.MaxManifestSize {
		return nil, fmt.Errorf("%s: exceeds the %d byte limit: %w", f.Name(), bundle.MaxManifestSize, errdef.ErrMalformed)
	}
	return data, nil
}

// readBoundedFile reads f to its end, up to limit+1 bytes, into a buffer of
// the size its Stat gives (one byte more, to meet the end): io.ReadAll grows
// its buffer as it reads, which for the largest manifest.json made twice
// its size in garbage (as os.ReadFile does). A file that grows meanwhile is
// read on, up to the bound.
func readBoundedFile(f *os.File, limit int64) ([]byte, error) {
	size := int64(512)
	if fi, err := f.Stat(); err == nil && fi.Mode().IsRegular() {
		size = min(fi.Size(), limit) + 1
	}
	r := io.LimitReader(f, limit+1)
	data := make([]byte, 0, size)
	for {
		if len(data) == cap(data) {
			data = append(data, 0)[:len(data)]
		}
		n, err := r.Read(data[len(data):cap(data)])
		data = data[:len(data)+n]
		if err == io.EOF {
			return data, nil
		}
		if err != nil {
			return nil, err
		}
	}
}

// WriteFile writes a file of the bundle atomically (temporary file, rename).
func (d *Dir) WriteFile(name string, data []byte, perm os.FileMode) error {
	if err := bundle.ValidPath(name); err != nil {
		return fmt.Errorf("%v: %w", err, errdef.ErrMalformed)
	}
	return WriteFileAtomic(filepath.Join(d.root, filepath.FromSlash(name)), data, perm)
}

// WriteFileAtomic writes path through a temporary sibling and a rename, so a
// reader sees the old content or the new, never a part; the content is
// synced before the rename and the directory after (RenameDurable).
func WriteFileAtomic(path string, data []byte, perm os.FileMode) error {
	s, err := StageFile(path, data, perm)
	if err != nil {
		return err
	}
	defer s.Discard()
	return s.Place()
}

// StagedFile is a file written in full under a hidden temporary name
// beside path, which Place gives it: the room it takes is taken before
// anything that must not be left without it (pack --split's volume list,
// staged before the volumes take their names).
type StagedFile struct {
	path string
	tmp  *os.File // open, so locked, until placed
}

// StageFile writes data, synced, with perm, beside path.
func StageFile(path string, data []byte, perm os.FileMode) (*StagedFile, error) {
	if err := mkdirAll(filepath.Dir(path)); err != nil {
		return nil, err
	}
	tmp, err := CreateTemp(path)
	if err != nil {
		return nil, err
	}
	s := &StagedFile{path: path, tmp: tmp}
	if _, err = tmp.Write(data); err == nil {
		if err = tmp.Sync(); err == nil {
			err = tmp.Chmod(perm)
		}
	}
	if err != nil {
		s.Discard()
		return nil, err
	}
	return s, nil
}

// Place renames the file to its path, durably.
func (s *StagedFile) Place() error { return RenameDurable(s.tmp.Name(), s.path) }

// Discard removes the temporary, if it was not placed; nil does nothing.
func (s *StagedFile) Discard() {
	if s != nil {
		s.tmp.Close()
		os.Remove(s.tmp.Name())
	}
}

// Index reads and decodes index.json.
func (d *Dir) Index() (*ocispec.Index, error) {
	data, err := d.ReadFile(IndexFile)
	if err != nil {
		return nil, err
	}
	return ParseIndex(data)
}

// ParseIndex decodes an OCI layout's index.json.
func ParseIndex(data []byte) (*ocispec.Index, error) {
	var idx ocispec.Index
	if err := json.Unmarshal(data, &idx); err != nil {
		return nil, fmt.Errorf("%s: %v: %w", IndexFile, err, errdef.ErrMalformed)
	}
	if idx.SchemaVersion != 2 {
		return nil, fmt.Errorf("%s: schemaVersion %d is not 2: %w", IndexFile, idx.SchemaVersion, errdef.ErrMalformed)
	}
	return &idx, nil
}

// WriteIndex writes index.json and, if missing, oci-layout.
func (d *Dir) WriteIndex(idx *ocispec.Index) error {
	data, err := bundle.Canonical(idx)
	if err != nil {
		return err
	}
	if err := d.WriteFile(OCILayoutFile, ociLayoutContent, 0o644); err != nil {
		return err
	}
	return d.WriteFile(IndexFile, data, 0o644)
}

// openRegular opens path for reading, refusing a symlink in its last
// element and anything that is not a regular file (see openNoFollow for how
// each system refuses them). It is for files named by the user (an
// archive's volumes); a file of a bundle directory is opened with
// Dir.openFile, which refuses a symlink at every level.
func openRegular(path string) (*os.File, error) {
	f, err := openNoFollow(path)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return nil, fmt.Errorf("%s: %w", path, errdef.ErrNotFound)
	case errors.Is(err, syscall.ELOOP):
		return nil, fmt.Errorf("%s: is %s: %w", path, FileKind(fs.ModeSymlink), errdef.ErrMalformed)
	case err != nil:
		if denied := ReadDenied(err); denied != nil {
			return nil, denied
		}
		return nil, err
	}
	f, _, err = checkRegular(f, path)
	return f, err
}

// checkRegular returns f and its FileInfo if it is a regular file;
// otherwise it closes it.
func checkRegular(f *os.File, path string) (*os.File, fs.FileInfo, error) {
	st, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, nil, err
	}
	if !st.Mode().IsRegular() {
		f.Close()
		return nil, nil, fmt.Errorf("%s: not a regular file (%s): %w", path, FileKind(st.Mode()), errdef.ErrMalformed)
	}
	return f, st, nil
}
