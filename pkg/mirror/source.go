package mirror

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"

	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	"oras.land/oras-go/v2/content"

	"github.com/stellaops/mirror/pkg/bundle"
	"github.com/stellaops/mirror/pkg/errdef"
	"github.com/stellaops/mirror/pkg/layout"
)

// source is a bundle being read for import: its files and manifests (as
// the bundle claims them), and its blobs, either at random (a directory) or
// as a stream in archive order (a tar). Nothing in it is trusted until
// verifyBundleSignature passes on file; then metadata parses it.
type source struct {
	name string
	file func(name string) ([]byte, error)
	doc  func(ctx context.Context, desc ocispec.Descriptor) ([]byte, error)
	// prefetch, if set, has doc fetch the documents below roots ahead of
	// the walks that read them, many at once (a registry's, which may be
	// a WAN away); see prefetchDocs.
	prefetch func(ctx context.Context, roots []ocispec.Descriptor)
	md       *metadata
	// fetch reads one blob (unverified: the uploader verifies); set for
	// random-access sources.
	fetch func(ctx context.Context, desc ocispec.Descriptor) (io.ReadCloser, error)
	// openAt opens one blob for reading at any offset, where the source
	// allows (a directory, a plain tar): uploads then hold nothing in
	// memory.
	openAt func(ctx context.Context, desc ocispec.Descriptor) (io.ReaderAt, io.Closer, error)
	// stream calls fn for every entry after the metadata, in archive
	// order, with the reader of its content; set for tar sources.
	// limit bounds the decompressed bytes read (see TarReader.SetLimit).
	stream func(limit int64, fn func(e *layout.Entry, r io.Reader) error) error
	// index is set for an archive read at random: where each entry lies.
	index *layout.TarIndex
	// trailing, set for an archive, reads what follows its tar's end
	// (once stream has read to it, for an archive read as a stream).
	trailing func() (layout.Trailing, error)
	// store is set for a directory or an archive read at random: what
	// holds the bundle's entries (checkNoStrayEntries).
	store servedStore
	close func()
	// layout is set for a directory or archive: its index.json is its own
	// and must agree with manifest.json (metadata.checkIndex).
	layout bool
	// placing is set once the source is checked and the target's turn
	// begins: from then on only an error marked sourceContentError (a
	// blob read from the source that is not what its digest says) is
	// the source's content's, and worth its volumes read again.
	placing bool
	// filesLeft, for a registry's bundle, names the side files of its
	// signing passed over when it was read (not the signer's), which
	// placements leave behind and report; nil when none were.
	filesLeft *FilesNotCarried
}

// prefetchDocs has a source that can (a registry's) fetch every document
// of md's graph at once, a level of nesting at a time, ahead of the walks
// that read them one at a time (docRoots).
func (s *source) prefetchDocs(ctx context.Context, md *metadata) {
	if s.prefetch == nil {
		return
	}
	root, err := md.root(ctx)
	if err != nil {
		root = &ocispec.Index{}
	}
	s.prefetch(ctx, docRoots(root, md.Manifest.Images))
}

// docRoots are where the documents of a bundle's graph are prefetched
// from: what the root lists, with each image's referrers; then what is
// below them.
func docRoots(root *ocispec.Index, images []bundle.Image) []ocispec.Descriptor {
	roots := slices.Clone(root.Manifests)
	for _, img := range images {
		for _, r := range img.Referrers {
			roots = append(roots, ocispec.Descriptor{MediaType: r.MediaType, Digest: r.Digest, Size: r.Size})
		}
	}
	return roots
}

// checkStructure is metadata.checkStructure, and for a directory or
// archive metadata.checkIndex.
func (s *source) checkStructure(ctx context.Context, md *metadata) error {
	if err := md.checkStructure(ctx); err != nil {
		return err
	}
	if !s.layout {
		return nil
	}
	_, err := md.checkIndex(ctx, false)
	return err
}

// openSource opens a bundle directory or tar for reading.
func openSource(ctx context.Context, path string, log *slog.Logger) (*source, error) {
	st, err := os.Stat(path)
	if denied := layout.ReadDenied(err); denied != nil {
		return nil, denied
	}
	if err != nil {
		return nil, layout.NotThere(path)
	}
	if st.IsDir() {
		store, err := openServedStore(path)
		if err != nil {
			return nil, err
		}
		return indexedSource(path, store), nil
	}
	if err := refuseBundleFile(path); err != nil {
		return nil, err
	}
	return openArchiveSource(ctx, path, true, log)
}

// refuseBundleFile refuses a file of a bundle directory given for the
// bundle (import DIR/manifest.dsse, as verify takes it): read as an
// archive, it failed as a damaged tar, exit 11.
func refuseBundleFile(path string) error {
	switch filepath.Base(path) {
	case layout.ManifestFile, layout.EnvelopeFile, layout.IndexFile, layout.OCILayoutFile,
		layout.PublicKeyFile, layout.ChecksumsFile, layout.ChecksumsSigFile:
	default:
		return nil
	}
	dir := filepath.Dir(path)
	if _, err := os.Lstat(filepath.Join(dir, layout.OCILayoutFile)); err != nil {
		return nil
	}
	return fmt.Errorf("%s is a file of the bundle directory %s, not a bundle archive: give %s: %w", path, dir, dir, errdef.ErrUsage)
}

// openArchiveSource opens an archive through its index where it can be
// read at random (a plain tar, pack's seekable .tar.zst or .tar.gz, and,
// with volumesAtRandom, the volumes of a split one), else as a stream.
func openArchiveSource(ctx context.Context, path string, volumesAtRandom bool, log *slog.Logger) (*source, error) {
	log = logger(log)
	if volumesAtRandom || !layout.IsVolumeList(path) {
		ra, size, err := openArchiveAt(path)
		switch {
		case err == nil && layout.SniffCompression(ra) == layout.None:
			store, err := openTarStore(path, ra, size)
			if err != nil {
				return nil, err
			}
			return indexedSource(path, store), nil
		case err == nil:
			// Compressed without a seek table: another tool's.
			ra.Close()
		case errors.Is(err, errdef.ErrMalformed):
			// A broken seek table spoils random access, not the archive:
			// its frames are still the signed tar, read (and verified) as
			// a stream.
			log.Warn("seek table unusable: reading the archive as one stream", "archive", path, "error", err)
		}
		// Any other error (a missing file or volume) is the stream's to
		// report, as it reports it for any archive.
	}
	return openTarSource(ctx, path, log)
}

// indexedSource reads a bundle directory, or a plain tar (or split volumes
// of one) through its index: head files, manifests and blobs are each read
// where they lie, so blobs can go up in parallel, in any order the archive
// has them, and each is still read once.
func indexedSource(path string, store servedStore) *source {
	var index *layout.TarIndex
	var trailing func() (layout.Trailing, error)
	if t, ok := store.(*tarStore); ok {
		index, trailing = t.TarIndex, t.Trailing
	}
	return &source{
		name:     path,
		index:    index,
		trailing: trailing,
		store:    store,
		file:     headFileOf(store.ReadFile),
		doc:      store.FetchBytes,
		// The uploader verifies what it sends: the blob is read unhashed
		// here, so it is hashed once.
		fetch: func(ctx context.Context, desc ocispec.Descriptor) (io.ReadCloser, error) {
			b, err := store.OpenBlob(ctx, desc)
			if err != nil {
				return nil, err
			}
			return struct {
				io.Reader
				io.Closer
			}{io.NewSectionReader(b, 0, desc.Size), b}, nil
		},
		openAt: func(ctx context.Context, desc ocispec.Descriptor) (io.ReaderAt, io.Closer, error) {
			b, err := store.OpenBlob(ctx, desc)
			if err != nil {
				return nil, nil, err
			}
			return b, b, nil
		},
		close:  func() { store.Close() },
		layout: true,
	}
}

// openTarSource reads a tar's head. A tar in pack order is then read on in
// the same pass. One in another order (a foreign OCI layout tar) is read to
// its end for its manifests, then read again for its blobs: twice the
// reading (and decompressing), never a copy on disk. A volume list
// (FILE.volumes.json) is read as the archive its volumes hold.
func openTarSource(ctx context.Context, path string, log *slog.Logger) (*source, error) {
	if err := layout.NotAVolume(path); err != nil {
		return nil, err
	}
	open := func() (io.ReadCloser, error) {
		f, _, err := layout.OpenArchive(path)
		if err != nil {
			return nil, err
		}
		return f, nil
	}
	var size int64 // of the archive on the media
	if layout.IsVolumeList(path) {
		vs, _, err := layout.OpenVolumeSet(path)
		if err != nil {
			return nil, err
		}
		open, size = vs.Open, vs.Size
	} else if st, err := os.Stat(path); err == nil {
		size = st.Size()
	}
	rc, err := open()
	if err != nil {
		return nil, err
	}
	tr, err := layout.NewTarReader(rc)
	if err != nil {
		rc.Close()
		return nil, fmt.Errorf("%s: %w", path, inVolume(rc, err))
	}
	tr.SetLimit(scanLimit(size))
	closeAll := func() { tr.Close(); rc.Close() }
	head, pending, err := layout.ReadHead(tr)
	if err != nil {
		closeAll()
		return nil, fmt.Errorf("%s: %w", path, inVolume(rc, err))
	}
	onePass := head.Complete()
	// restart reads the archive again from its start.
	restart := func() error {
		tr.Close()
		rc.Close()
		if rc, err = open(); err != nil {
			return err
		}
		if tr, err = layout.NewTarReader(rc); err != nil {
			return err
		}
		tr.SetLimit(scanLimit(size))
		pending, err = tr.Next()
		if err == io.EOF {
			pending, err = nil, nil
		}
		return err
	}
	if !onePass {
		log.Warn("archive is not in pack order: reading it more than once (for its manifests, then for its blobs)", "archive", path, "compression", tr.Compression().String())
		if err := scanForManifests(func() (*layout.TarReader, *layout.Entry, error) {
			err := restart()
			return tr, pending, err
		}, tr, head, pending); err != nil {
			closeAll()
			return nil, fmt.Errorf("%s: %w", path, inVolume(rc, err))
		}
	}
	src := &source{name: path, file: headFile(path, head), doc: headDoc(path, head), close: func() { tr.Close(); rc.Close() }, layout: true}
	src.trailing = func() (layout.Trailing, error) { return tr.Trailing() }
	src.stream = func(limit int64, fn func(e *layout.Entry, r io.Reader) error) error {
		if !onePass {
			if err := restart(); err != nil {
				return err
			}
		}
		tr.SetLimit(limit)
		for e := pending; e != nil; {
			if err := fn(e, tr); err != nil {
				return inVolume(rc, err)
			}
			next, err := tr.Next()
			if err == io.EOF {
				return nil
			}
			if err != nil {
				return fmt.Errorf("%s: %w", path, inVolume(rc, err))
			}
			e = next
		}
		return nil
	}
	return src, nil
}

// scanLimit bounds what reading an archive's head, and scanning all of an
// archive out of pack order for its manifests, may decompress before the
// signed sizes are known: layout.DefaultTarLimit, or 64 times the
// archive's size on the media when that is more. Layers are compressed
// already, so a real archive (a `tar -czf` of a bundle of any size) stays
// far below it; a decompression bomb, a few megabytes claiming gigabytes,
// is stopped at the first entry that would cross it.
func scanLimit(size int64) int64 { return max(layout.DefaultTarLimit, 64*size) }

// inVolume adds to an error met while reading a split archive the volume
// being read, which is where the damage most likely is; an archive that
// does not read as a tar there, or whose stream fails its checksum, is put
// on that volume when its bytes differ from the volume list (a digest
// mismatch: damaged, or another volume under its name).
func inVolume(r io.Reader, err error) error {
	if v, ok := r.(interface{ CheckCurrent() error }); ok && (errors.Is(err, errdef.ErrMalformed) || errors.Is(err, errdef.ErrDigestMismatch)) {
		if verr := v.CheckCurrent(); verr != nil {
			return verr
		}
	}
	if v, ok := r.(interface{ Current() string }); ok && err != nil && !strings.Contains(err.Error(), "volume ") {
		return fmt.Errorf("%w (while reading volume %s)", err, v.Current())
	}
	return err
}

// metadata parses the bundle's index.json, manifest.json and root (once).
func (s *source) metadata(ctx context.Context) (*metadata, error) {
	if s.md == nil {
		md, err := readMetadata(ctx, s.file, s.doc)
		if err != nil {
			// Name the bundle: "manifest.json: …" alone does not say
			// which of the media's archives is at fault.
			if s.name != "" && !strings.Contains(err.Error(), s.name) {
				err = fmt.Errorf("%s: %w", s.name, err)
			}
			return nil, err
		}
		s.md = md
	}
	return s.md, nil
}

// headFileOf reads a bundle's head files through read: a head file the
// bundle lacks is missing (errors.Is says so: an absent manifest.dsse is an
// unsigned bundle) and makes the bundle malformed (exit 11), as for a
// streamed archive. Every later call gives the first read's answer: the
// signature is checked over manifest.json, which is then parsed, and a
// medium whose content changes between two reads (a network share, another
// process writing the directory, a device that answers otherwise) must not
// have unsigned bytes parsed. A small file is kept as read; a larger one
// (manifest.json, its envelope, SHA256SUMS and index.json grow with the
// images: 11 MB at 3000) is kept as its digest, read again when asked for
// again, and refused (errdef.ErrDigestMismatch) unless it is the same bytes:
// held through a whole import, they were a fifth of its live heap.
func headFileOf(read func(string) ([]byte, error)) func(string) ([]byte, error) {
	type answer struct {
		data []byte
		// digest and size are those of a file read and not kept.
		digest digest.Digest
		size   int
		err    error
	}
	var mu sync.Mutex
	read1 := map[string]answer{}
	return func(name string) ([]byte, error) {
		mu.Lock()
		defer mu.Unlock()
		a, seen := read1[name]
		if seen && (a.err != nil || a.digest == "") {
			return a.data, a.err
		}
		data, err := read(name)
		if errors.Is(err, errdef.ErrNotFound) {
			err = fmt.Errorf("%w (%w)", err, errdef.ErrMalformed)
		}
		if seen {
			if err != nil {
				return nil, err
			}
			if len(data) != a.size || digest.FromBytes(data) != a.digest {
				return nil, fmt.Errorf("%s changed on the medium while the bundle was read (first read %s, %d bytes; now %s, %d bytes): %w",
					name, a.digest, a.size, digest.FromBytes(data), len(data), errdef.ErrDigestMismatch)
			}
			return data, nil
		}
		a = answer{data: data, err: err}
		if err == nil && len(data) > keptHeadFileSize {
			a = answer{digest: digest.FromBytes(data), size: len(data)}
		}
		read1[name] = a
		return data, err
	}
}

// keptHeadFileSize is the largest head file headFileOf keeps as read
// (oci-layout, keys, certificates, signatures); a larger one is read again
// (and hashed again) when asked for again, which costs less than holding
// it.
const keptHeadFileSize = 64 << 10

func headFile(path string, head *layout.Head) func(string) ([]byte, error) {
	return func(name string) ([]byte, error) {
		if data, ok := head.Files[name]; ok {
			return data, nil
		}
		return nil, fmt.Errorf("%s: no %s: %w (%w)", path, name, errdef.ErrNotFound, errdef.ErrMalformed)
	}
}

func headDoc(path string, head *layout.Head) func(context.Context, ocispec.Descriptor) ([]byte, error) {
	return func(_ context.Context, desc ocispec.Descriptor) ([]byte, error) {
		if data, ok := head.Docs[desc.Digest]; ok {
			return data, nil
		}
		return nil, fmt.Errorf("%s: no manifest %s: %w", path, desc.Digest, errdef.ErrMalformed)
	}
}

// scanForManifests reads an archive that is not in pack order to its end,
// keeping every manifest index.json reaches (and small blobs that may turn
// out to be one). A manifest met before its parent may need another pass;
// passes go on while they find something, at most bundle.MaxDepth+2.
func scanForManifests(restart func() (*layout.TarReader, *layout.Entry, error), tr *layout.TarReader, head *layout.Head, pending *layout.Entry) error {
	for pass := 0; ; pass++ {
		before := len(head.Docs)
		for e := pending; e != nil; {
			if err := head.Scan(tr, e); err != nil {
				return err
			}
			next, err := tr.Next()
			if err == io.EOF {
				break
			}
			if err != nil {
				return err
			}
			e = next
		}
		if head.Complete() {
			return nil
		}
		if head.Files[layout.IndexFile] == nil {
			return fmt.Errorf("archive has no %s: %w", layout.IndexFile, errdef.ErrMalformed)
		}
		if len(head.Docs) == before || pass > bundle.MaxDepth+1 {
			return fmt.Errorf("archive lacks manifest %s: %w", head.Missing()[0].Digest, errdef.ErrMalformed)
		}
		var err error
		if tr, pending, err = restart(); err != nil {
			return err
		}
	}
}

// fetcher adapts fetch to content.Fetcher.
func (s *source) fetcher() content.Fetcher { return fetchFunc(s.fetch) }

type fetchFunc func(ctx context.Context, desc ocispec.Descriptor) (io.ReadCloser, error)

func (f fetchFunc) Fetch(ctx context.Context, desc ocispec.Descriptor) (io.ReadCloser, error) {
	return f(ctx, desc)
}

// blobError says err is about the source's blob dg, naming the source and
// the blob once: a directory's error that names the blob's file there
// ("DIR/blobs/sha256/…: …") says both already ("DIR: blob sha256:…:
// DIR/blobs/sha256/…: …" said each twice).
func (s *source) blobError(dg digest.Digest, err error) error {
	if namesFileIn(s.name, err) {
		return err
	}
	return fmt.Errorf("%s: %w", s.name, aboutDigest("blob", dg, err))
}
