package layout

import (
	"crypto/sha256"
	"fmt"
	"io/fs"
	"path/filepath"
	"strings"

	"github.com/opencontainers/go-digest"

	"github.com/stellaops/mirror/pkg/bundle"
	"github.com/stellaops/mirror/pkg/errdef"
)

// Checksums lists every file of the bundle directory except SHA256SUMS and
// SHA256SUMS.sig themselves, with its SHA-256. With trustBlobNames, a blob's
// digest is taken from its name (for a directory this process wrote and
// verified); otherwise every file is hashed. Symlinks and other non-regular
// files are refused.
func (d *Dir) Checksums(trustBlobNames bool) ([]bundle.Checksum, error) {
	var sums []bundle.Checksum
	buf := make([]byte, copyBufferSize)
	err := filepath.WalkDir(d.root, func(path string, e fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(d.root, path)
		if err != nil {
			return err
		}
		rel = filepath.ToSlash(rel)
		switch {
		case e.IsDir():
			return nil
		case !e.Type().IsRegular():
			return fmt.Errorf("%s: not a regular file (%s): %w", path, FileKind(e.Type()), errdef.ErrMalformed)
		case rel == ChecksumsFile || rel == ChecksumsSigFile:
			return nil
		case strings.HasPrefix(filepath.Base(rel), ".tmp-") || strings.Contains(filepath.Base(rel), ".tmp-"):
			return fmt.Errorf("%s: leftover temporary file: %w", path, errdef.ErrMalformed)
		}
		if trustBlobNames && strings.HasPrefix(rel, BlobsDir+"/sha256/") {
			dg := digest.NewDigestFromEncoded(digest.SHA256, strings.TrimPrefix(rel, BlobsDir+"/sha256/"))
			if dg.Validate() == nil {
				sums = append(sums, bundle.Checksum{Path: rel, Digest: dg})
				return nil
			}
		}
		dg, err := d.hashFile(rel, buf)
		if err != nil {
			return err
		}
		sums = append(sums, bundle.Checksum{Path: rel, Digest: dg})
		return nil
	})
	// External blobs are listed by their digest: they are verified as they
	// are written into the archive. One the directory holds as well (the
	// bundle's own content may be byte for byte an image's blob) is
	// listed, and packed, from its file.
	for _, desc := range d.externals() {
		if !d.has(BlobName(desc.Digest)) {
			sums = append(sums, bundle.Checksum{Path: BlobName(desc.Digest), Digest: desc.Digest})
		}
	}
	return sums, err
}

// WriteChecksums writes SHA256SUMS for the directory (see Checksums) and
// returns its bytes.
func (d *Dir) WriteChecksums(trustBlobNames bool) ([]byte, error) {
	data, err := d.ChecksumsData(trustBlobNames)
	if err != nil {
		return nil, err
	}
	return data, d.WriteFile(ChecksumsFile, data, 0o644)
}

// ChecksumsData returns what WriteChecksums would write, writing nothing.
func (d *Dir) ChecksumsData(trustBlobNames bool) ([]byte, error) {
	return d.ChecksumsDataWithout(trustBlobNames, nil)
}

// ChecksumsDataWithout is ChecksumsData for the directory as it will be
// once the blobs of omit are removed: sign signs the list before it
// removes the old referrer, so that a failure then leaves all of it.
func (d *Dir) ChecksumsDataWithout(trustBlobNames bool, omit map[digest.Digest]bool) ([]byte, error) {
	all, err := d.Checksums(trustBlobNames)
	if err != nil {
		return nil, err
	}
	sums := all[:0]
	for _, c := range all {
		if !omit[c.Digest] || c.Path != BlobName(c.Digest) {
			sums = append(sums, c)
		}
	}
	data := bundle.FormatChecksums(sums)
	if len(data) > bundle.MaxManifestSize {
		// No reader would take it (bundle.ParseChecksums).
		return nil, fmt.Errorf("release too large for one bundle: its %s would be %d bytes (%d files), over the %d that every reader holds it to: split the release, or carry the advisories as fewer files: %w",
			ChecksumsFile, len(data), len(sums), bundle.MaxManifestSize, errdef.ErrUsage)
	}
	return data, nil
}

func (d *Dir) hashFile(name string, buf []byte) (digest.Digest, error) {
	f, err := d.openFile(name)
	if err != nil {
		return "", err
	}
	defer f.Close()
	h := sha256.New()
	if _, err := copyBuffered(h, f, buf); err != nil {
		return "", err
	}
	return digest.NewDigest(digest.SHA256, h), nil
}
