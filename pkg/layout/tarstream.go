package layout

import (
	"archive/tar"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/stellaops/mirror/pkg/bundle"
	"github.com/stellaops/mirror/pkg/errdef"
)

// TarReader reads a bundle tar front to back, plain or compressed (the
// codec is detected from the first bytes), treating every entry as hostile:
// only regular files and directories, names that are clean relative paths,
// each name once. Content of the current entry is read through Read.
type TarReader struct {
	tr          *tar.Reader
	closeCodec  func()
	count       *countingReader
	limit       int64
	names       nameSet
	compression Compression
	cur         *Entry
	ended       bool // Next returned io.EOF: Trailing may read on
}

// Entry is one file of the archive.
type Entry struct {
	// Name is the entry's path, with any leading "./" removed.
	Name string
	// Size is the size the header declares; Read never yields more.
	Size int64
}

// DefaultTarLimit bounds the decompressed bytes a TarReader reads until the
// caller knows better (SetLimit): generous for any real bundle's head, tiny
// next to what a decompression bomb would produce.
const DefaultTarLimit = 1 << 30

// NewTarReader starts reading a bundle tar from r.
func NewTarReader(r io.Reader) (*TarReader, error) {
	plain, c, closeCodec, err := decompressor(r)
	if err != nil {
		return nil, err
	}
	count := &countingReader{r: plain}
	return &TarReader{
		tr:          tar.NewReader(count),
		closeCodec:  closeCodec,
		count:       count,
		limit:       DefaultTarLimit,
		compression: c,
	}, nil
}

// Compression reports the codec detected.
func (t *TarReader) Compression() Compression { return t.compression }

// SetLimit bounds the total decompressed bytes the reader may consume, so
// that an archive cannot make the reader do more work than the sizes its
// signed manifest declares.
func (t *TarReader) SetLimit(n int64) { t.limit = n }

// BytesRead is the number of decompressed bytes consumed so far.
func (t *TarReader) BytesRead() int64 { return t.count.n }

// Close releases the decompressor.
func (t *TarReader) Close() error {
	if t.closeCodec != nil {
		t.closeCodec()
		t.closeCodec = nil
	}
	return nil
}

// Next advances to the next regular file, skipping directories. It returns
// io.EOF at the end of the archive, and an error wrapping errdef.ErrMalformed
// that names the entry for anything a bundle must not hold.
func (t *TarReader) Next() (*Entry, error) {
	for {
		hdr, err := t.tr.Next()
		if err == io.EOF {
			t.cur, t.ended = nil, true
			return nil, io.EOF
		}
		if err != nil {
			return nil, t.malformed("archive", err)
		}
		if t.count.n > t.limit {
			return nil, fmt.Errorf("archive: more than %d bytes of content, beyond what the bundle declares: %w", t.limit, errdef.ErrMalformed)
		}
		name, skip, err := checkEntry(hdr)
		if err != nil {
			return nil, err
		}
		if skip {
			continue
		}
		if err := t.names.add(name); err != nil {
			return nil, err
		}
		// hdr.Size is attacker-controllable: an entry that would take the
		// reader past its limit is refused at its header, before the
		// decompressor produces (or the next Next skips) a byte of it. A
		// decompression bomb is a few megabytes claiming gigabytes.
		if left := t.limit - t.count.n; hdr.Size > left {
			return nil, fmt.Errorf("archive entry %q: %d bytes, more than the %d left of the %d bytes the bundle may hold: %w", name, hdr.Size, max(left, 0), t.limit, errdef.ErrMalformed)
		}
		t.cur = &Entry{Name: name, Size: hdr.Size}
		return t.cur, nil
	}
}

// checkEntry applies the rules every reader of a bundle tar shares to one
// header: only regular files and directories, clean relative names. It
// returns the entry's name, or skip for what carries no content
// (directories, global headers). Each caller refuses a name given twice.
func checkEntry(hdr *tar.Header) (name string, skip bool, err error) {
	name = strings.TrimPrefix(hdr.Name, "./")
	switch hdr.Typeflag {
	case tar.TypeXGlobalHeader:
		return "", true, nil
	case tar.TypeDir:
		name = strings.TrimSuffix(name, "/")
		if name == "" || name == "." {
			return "", true, nil
		}
		if err := bundle.ValidPath(name); err != nil {
			return "", false, fmt.Errorf("archive entry %q: %v: %w", hdr.Name, err, errdef.ErrMalformed)
		}
		return "", true, nil
	//lint:ignore SA1019 TypeRegA is what old tars write for files
	case tar.TypeReg, tar.TypeRegA:
	default:
		return "", false, fmt.Errorf("archive entry %q: %s entries are refused: %w", hdr.Name, typeName(hdr.Typeflag), errdef.ErrMalformed)
	}
	if err := bundle.ValidPath(name); err != nil {
		return "", false, fmt.Errorf("archive entry %q: %v: %w", hdr.Name, err, errdef.ErrMalformed)
	}
	for k := range hdr.PAXRecords {
		// A PAX sparse file is a regular entry whose archived bytes are not
		// its content; a bundle never holds one.
		if strings.HasPrefix(k, "GNU.sparse.") {
			return "", false, fmt.Errorf("archive entry %q: sparse files are refused: %w", name, errdef.ErrMalformed)
		}
	}
	if hdr.Size < 0 {
		return "", false, fmt.Errorf("archive entry %q: negative size: %w", name, errdef.ErrMalformed)
	}
	return name, false, nil
}

// MaxOtherNameBytes bounds the bytes of the names of an archive's files
// other than blobs/sha256/<hex>: the head files, scripts, docs and the
// advisories, every one of which manifest.json names within its own bound
// (bundle.MaxManifestSize). Names are up to 1 KiB each: without it, a
// hostile archive of a million empty entries (a 3 MiB .tar.zst) made a
// reader hold a gigabyte of names.
const MaxOtherNameBytes = bundle.MaxManifestSize

// nameSet records the files an archive has named, to refuse a name given
// twice, in memory bounded by the archive's bounds: a blob's name as the
// first 16 bytes of its digest (some 36 bytes an entry in the set, where the
// name held 110; two sha256 digests share them once in 2^64 tries, and names
// a hostile archive makes share them only have that archive refused), the
// others whole within MaxOtherNameBytes, at most MaxTarEntries in all.
type nameSet struct {
	blobs      map[[sha256.Size / 2]byte]struct{}
	others     map[string]struct{}
	otherBytes int
}

// add records name, or refuses it (errdef.ErrMalformed) if it was recorded
// before or would take the set past its bounds.
func (s *nameSet) add(name string) error {
	if s.blobs == nil {
		s.blobs, s.others = map[[sha256.Size / 2]byte]struct{}{}, map[string]struct{}{}
	}
	if len(s.blobs)+len(s.others) >= MaxTarEntries {
		return fmt.Errorf("archive: more than %d files: %w", MaxTarEntries, errdef.ErrMalformed)
	}
	if k, ok := blobKey(name); ok {
		half := [sha256.Size / 2]byte(k[:])
		if _, dup := s.blobs[half]; dup {
			return fmt.Errorf("archive entry %q appears twice: %w", name, errdef.ErrMalformed)
		}
		s.blobs[half] = struct{}{}
		return nil
	}
	if _, dup := s.others[name]; dup {
		return fmt.Errorf("archive entry %q appears twice: %w", name, errdef.ErrMalformed)
	}
	if err := checkOtherNames(s.otherBytes + len(name)); err != nil {
		return err
	}
	s.others[name] = struct{}{}
	s.otherBytes += len(name)
	return nil
}

// checkOtherNames refuses an archive whose names other than blobs' come to
// n bytes, past MaxOtherNameBytes.
func checkOtherNames(n int) error {
	if n > MaxOtherNameBytes {
		return fmt.Errorf("archive: its files other than blobs have more than %d bytes of names, more than any bundle's manifest.json names: %w", MaxOtherNameBytes, errdef.ErrMalformed)
	}
	return nil
}

// Read reads the current entry's content. A short entry (truncated archive)
// is an error wrapping errdef.ErrMalformed, not a quiet io.EOF.
func (t *TarReader) Read(p []byte) (int, error) {
	if t.cur == nil {
		return 0, io.EOF
	}
	n, err := t.tr.Read(p)
	if t.count.n > t.limit {
		return n, fmt.Errorf("archive: more than %d bytes of content, beyond what the bundle declares: %w", t.limit, errdef.ErrMalformed)
	}
	if err != nil && err != io.EOF {
		return n, t.malformed("archive entry "+t.cur.Name, err)
	}
	return n, err
}

// ReadEntry reads the whole current entry, which must be at most limit
// bytes.
func (t *TarReader) ReadEntry(limit int64) ([]byte, error) {
	if t.cur == nil {
		return nil, io.EOF
	}
	if t.cur.Size > limit {
		return nil, fmt.Errorf("archive entry %q: %d bytes exceeds the %d byte limit: %w", t.cur.Name, t.cur.Size, limit, errdef.ErrMalformed)
	}
	buf := make([]byte, t.cur.Size)
	if _, err := io.ReadFull(t, buf); err != nil {
		if errors.Is(err, io.ErrUnexpectedEOF) || err == io.EOF {
			return nil, fmt.Errorf("archive entry %q is truncated: %w", t.cur.Name, errdef.ErrMalformed)
		}
		return nil, err
	}
	return buf, nil
}

func (t *TarReader) malformed(what string, err error) error {
	if errors.Is(err, errdef.ErrMalformed) || errors.Is(err, errdef.ErrDigestMismatch) {
		return err
	}
	if errors.Is(err, io.ErrUnexpectedEOF) {
		return fmt.Errorf("%s is truncated: %w", what, errdef.ErrMalformed)
	}
	// A read of the medium that failed (EIO) is no fault of the bundle's:
	// kept, for the callers to tell as the medium's.
	if errors.As(err, new(*os.PathError)) {
		return fmt.Errorf("%s: %w", what, err)
	}
	return fmt.Errorf("%s: %v: %w", what, err, errdef.ErrMalformed)
}

func typeName(flag byte) string {
	switch flag {
	case tar.TypeSymlink:
		return "symlink"
	case tar.TypeLink:
		return "hardlink"
	case tar.TypeChar:
		return "character device"
	case tar.TypeBlock:
		return "block device"
	case tar.TypeFifo:
		return "fifo"
	}
	return fmt.Sprintf("type %q", flag)
}

type countingReader struct {
	r io.Reader
	n int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	return n, err
}
