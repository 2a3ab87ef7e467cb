package layout

import (
	"archive/tar"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"sort"

	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/stellaops/mirror/pkg/bundle"
	"github.com/stellaops/mirror/pkg/errdef"
)

// MaxTarEntries bounds the files a TarIndex records. A bundle holds a few
// files per image and blob (10,000 images of a dozen layers each stay far
// below it); the bound keeps a hostile archive of empty entries from growing
// the index past some 50 MB (48 bytes a blob; other names are bounded by
// MaxOtherNameBytes).
const MaxTarEntries = 1 << 20

// TarIndex is a plain (uncompressed) bundle tar opened for random access:
// where each file's content lies in the archive. Reads go straight to those
// offsets, so a bundle on read-only media is served without extraction or
// copy, and concurrent readers never share a file position.
type TarIndex struct {
	r    io.ReaderAt
	size int64
	// blobs are the entries named blobs/sha256/<lowercase hex>, nearly all
	// of an archive's, sorted by the digest's bytes: 48 bytes an entry and
	// nothing for the collector to follow, where a map by name held 140 (a
	// name string of 80 bytes each, 3.3 MB for the 27,000 entries of 3000
	// images, held from the first read to the last); files are the others,
	// by name, their names' bytes counted in fileBytes (MaxOtherNameBytes).
	blobs     blobList
	files     map[string]TarEntry
	fileBytes int
	// end is where the tar's end (its zero blocks) starts.
	end int64
}

// blobList is the blob entries, in chunks of blobChunk (48 KiB) sorted in
// place: one slice grown by append held its old and new arrays at once, and
// a copy of it trimmed to its length a third, some 100 MB for an archive of
// MaxTarEntries.
type blobList struct {
	chunks [][]blobEntry
	n      int
}

const blobChunk = 1 << 10

func (l *blobList) at(i int) *blobEntry { return &l.chunks[i/blobChunk][i%blobChunk] }

func (l *blobList) add(e blobEntry) {
	if l.n%blobChunk == 0 {
		l.chunks = append(l.chunks, make([]blobEntry, 0, blobChunk))
	}
	last := &l.chunks[len(l.chunks)-1]
	*last = append(*last, e)
	l.n++
}

// blobList sorts by digest (sort.Interface).
func (l *blobList) Len() int { return l.n }
func (l *blobList) Less(i, j int) bool {
	return bytes.Compare(l.at(i).key[:], l.at(j).key[:]) < 0
}
func (l *blobList) Swap(i, j int) { a, b := l.at(i), l.at(j); *a, *b = *b, *a }

// blobEntry is where the blob whose digest is key lies.
type blobEntry struct {
	key [sha256.Size]byte
	TarEntry
}

// blobKey returns the key of a name in TarIndex.blobs: the digest bytes of
// blobs/sha256/<hex>, in the lowercase hex BlobName writes (any other
// spelling is another name, kept by name).
func blobKey(name string) (k [sha256.Size]byte, ok bool) {
	const prefix = BlobsDir + "/sha256/"
	if len(name) != len(prefix)+2*sha256.Size || name[:len(prefix)] != prefix {
		return k, false
	}
	hexPart := name[len(prefix):]
	for i := 0; i < len(hexPart); i++ {
		if c := hexPart[i]; (c < '0' || c > '9') && (c < 'a' || c > 'f') {
			return k, false
		}
	}
	_, err := hex.Decode(k[:], []byte(hexPart))
	return k, err == nil
}

// add records where the file name lies, refusing a name other than a
// blob's given twice or past MaxOtherNameBytes; sortBlobs makes the blobs
// searchable once all are added, and refuses a blob given twice.
func (x *TarIndex) add(name string, e TarEntry) error {
	if k, ok := blobKey(name); ok {
		x.blobs.add(blobEntry{k, e})
		return nil
	}
	if _, dup := x.files[name]; dup {
		return fmt.Errorf("archive entry %q appears twice: %w", name, errdef.ErrMalformed)
	}
	if err := checkOtherNames(x.fileBytes + len(name)); err != nil {
		return err
	}
	x.files[name] = e
	x.fileBytes += len(name)
	return nil
}

// sortBlobs sorts the blob entries by digest, in place, and refuses a blob
// the archive holds twice.
func (x *TarIndex) sortBlobs() error {
	sort.Sort(&x.blobs)
	for i := 1; i < x.blobs.n; i++ {
		if k := x.blobs.at(i).key; k == x.blobs.at(i-1).key {
			return fmt.Errorf("archive entry %q appears twice: %w", BlobsDir+"/sha256/"+hex.EncodeToString(k[:]), errdef.ErrMalformed)
		}
	}
	return nil
}

// lookup returns where the file name lies.
func (x *TarIndex) lookup(name string) (TarEntry, bool) {
	if k, ok := blobKey(name); ok {
		i := sort.Search(x.blobs.n, func(i int) bool { return bytes.Compare(x.blobs.at(i).key[:], k[:]) >= 0 })
		if i == x.blobs.n || x.blobs.at(i).key != k {
			return TarEntry{}, false
		}
		return x.blobs.at(i).TarEntry, true
	}
	e, ok := x.files[name]
	return e, ok
}

// TarEntry is where one file's content lies in the archive.
type TarEntry struct {
	Offset int64
	Size   int64
}

// IndexTar reads the headers of the plain tar r (size bytes long) once,
// skipping over contents, and records where every file's content lies. The
// archive is hostile input and gets the rules of TarReader: only regular
// files and directories, clean relative names, each name once, no sparse
// files, and at most MaxTarEntries files, each within the archive. A gzip or
// zstd archive cannot be read at random and is refused with an error
// wrapping errdef.ErrUsage that says how to get a plain one.
func IndexTar(r io.ReaderAt, size int64) (*TarIndex, error) {
	x := &TarIndex{r: r, size: size, files: map[string]TarEntry{}}
	r, done := readsInPassing(r)
	defer done()
	if c := SniffCompression(r); c != None {
		return nil, fmt.Errorf("archive is %s-compressed and cannot be read at random: %w", c, errdef.ErrUsage)
	}
	// Each header is read by a tar.Reader of its own, started where the
	// entry starts: one reader for the whole archive would skip each
	// content by reading its last byte, which in a compressed archive read
	// at random (Seekable) decodes the whole frame it ends.
	for at := int64(0); ; {
		sr := io.NewSectionReader(r, at, size-at)
		hdr, err := tar.NewReader(sr).Next()
		if err == io.EOF {
			x.end = at
			break
		}
		if err != nil {
			if errors.Is(err, io.ErrUnexpectedEOF) {
				return nil, fmt.Errorf("archive is truncated: %w", errdef.ErrMalformed)
			}
			if errors.Is(err, errdef.ErrMalformed) || errors.Is(err, errdef.ErrDigestMismatch) {
				return nil, fmt.Errorf("archive: %w", err)
			}
			return nil, fmt.Errorf("archive: %v: %w", err, errdef.ErrMalformed)
		}
		name, skip, err := checkEntry(hdr)
		if err != nil {
			return nil, err
		}
		// The reader stopped where the content starts (after any PAX or
		// GNU headers); a directory has none, whatever its size says.
		pos, err := sr.Seek(0, io.SeekCurrent)
		if err != nil {
			return nil, err
		}
		off, n := at+pos, hdr.Size
		if hdr.Typeflag == tar.TypeDir {
			n = 0
		}
		if n > size-off {
			return nil, fmt.Errorf("archive entry %q is truncated: %w", hdr.Name, errdef.ErrMalformed)
		}
		at = (off + n + blockSize - 1) / blockSize * blockSize // the next header
		if skip {
			continue
		}
		if x.Len() >= MaxTarEntries {
			return nil, fmt.Errorf("archive: more than %d files: %w", MaxTarEntries, errdef.ErrMalformed)
		}
		if err := x.add(name, TarEntry{Offset: off, Size: hdr.Size}); err != nil {
			return nil, err
		}
	}
	if x.Len() == 0 {
		return nil, fmt.Errorf("archive holds no files: %w", errdef.ErrMalformed)
	}
	if err := x.sortBlobs(); err != nil {
		return nil, err
	}
	return x, nil
}

// SniffCompression names the codec of the archive r from its first bytes:
// None for a plain tar (or anything else).
func SniffCompression(r io.ReaderAt) Compression {
	r, done := readsInPassing(r)
	defer done()
	var magic [4]byte
	n, _ := r.ReadAt(magic[:], 0)
	return sniffCompression(magic[:n])
}

// sniffCompression names the codec whose magic number starts b.
func sniffCompression(b []byte) Compression {
	switch {
	case bytes.HasPrefix(b, []byte{0x1f, 0x8b}):
		return Gzip
	case bytes.HasPrefix(b, []byte{0x28, 0xb5, 0x2f, 0xfd}):
		return Zstd
	}
	return None
}

// Entry returns where the file name lies in the archive.
func (x *TarIndex) Entry(name string) (TarEntry, bool) { return x.lookup(name) }

// Names lists the files of the archive, sorted.
func (x *TarIndex) Names() []string {
	names := make([]string, 0, x.Len())
	for name := range x.files {
		names = append(names, name)
	}
	for i := range x.blobs.n {
		names = append(names, BlobsDir+"/sha256/"+hex.EncodeToString(x.blobs.at(i).key[:]))
	}
	sort.Strings(names)
	return names
}

// Len is the number of files in the archive.
func (x *TarIndex) Len() int { return x.blobs.n + len(x.files) }

// Section returns a reader of the file name's content alone.
func (x *TarIndex) Section(name string) (*io.SectionReader, error) {
	e, ok := x.lookup(name)
	if !ok {
		return nil, fmt.Errorf("archive has no %s: %w", name, errdef.ErrNotFound)
	}
	return io.NewSectionReader(x.r, e.Offset, e.Size), nil
}

// ReadFile reads a metadata file of the bundle (index.json, manifest.json,
// manifest.dsse, …), at most bundle.MaxManifestSize bytes; as Dir.ReadFile.
func (x *TarIndex) ReadFile(name string) ([]byte, error) {
	sr, err := x.Section(name)
	if err != nil {
		return nil, err
	}
	if sr.Size() > bundle.MaxManifestSize {
		return nil, fmt.Errorf("archive entry %s: exceeds the %d byte limit: %w", name, bundle.MaxManifestSize, errdef.ErrMalformed)
	}
	data := make([]byte, sr.Size())
	if _, err := io.ReadFull(sr, data); err != nil {
		return nil, fmt.Errorf("archive entry %s: %w", name, err)
	}
	return data, nil
}

// Blob returns a reader of the blob desc names, after checking that the
// archive holds it with desc's size. It does not hash it; Fetch does.
func (x *TarIndex) Blob(desc ocispec.Descriptor) (*io.SectionReader, error) {
	if desc.Digest.Validate() != nil || desc.Digest.Algorithm() != digest.SHA256 {
		return nil, fmt.Errorf("digest %q is not a valid sha256 digest: %w", desc.Digest, errdef.ErrMalformed)
	}
	name := BlobName(desc.Digest)
	sr, err := x.Section(name)
	if err != nil {
		return nil, err
	}
	if sr.Size() != desc.Size {
		return nil, fmt.Errorf("archive entry %s: %d bytes, its descriptor says %d: %w", name, sr.Size(), desc.Size, errdef.ErrDigestMismatch)
	}
	return sr, nil
}

// BlobReader is a blob open for reading at random until it is closed.
type BlobReader interface {
	io.ReaderAt
	Size() int64
	Close() error
}

// OpenBlob is Blob for a reader that goes on where it stopped (a serve
// client's, an upload's): from a seekable compressed archive it reads with
// a decoder of its own until closed (Seekable.Section).
func (x *TarIndex) OpenBlob(desc ocispec.Descriptor) (BlobReader, error) {
	sr, err := x.Blob(desc)
	if err != nil {
		return nil, err
	}
	if z, ok := x.r.(interface{ seekable() *Seekable }); ok {
		e, _ := x.lookup(BlobName(desc.Digest))
		return z.seekable().Section(e.Offset, e.Size), nil
	}
	return sectionBlob{sr}, nil
}

// sectionBlob is a section of a file shared by every reader and closed
// once, elsewhere: its Close does nothing.
type sectionBlob struct{ *io.SectionReader }

func (sectionBlob) Close() error { return nil }

// Fetch opens the blob desc names; the reader verifies size and digest as it
// is read (bundle.VerifyReader). It is content.Fetcher's method.
func (x *TarIndex) Fetch(_ context.Context, desc ocispec.Descriptor) (io.ReadCloser, error) {
	sr, err := x.Blob(desc)
	if err != nil {
		return nil, err
	}
	return io.NopCloser(bundle.NewVerifyReader(sr, desc)), nil
}

// FetchBytes reads and verifies a document-sized blob; as Dir.FetchBytes.
func (x *TarIndex) FetchBytes(ctx context.Context, desc ocispec.Descriptor) ([]byte, error) {
	rc, err := x.Fetch(ctx, desc)
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	return bundle.ReadAll(rc, desc, bundle.MaxManifestSize)
}
