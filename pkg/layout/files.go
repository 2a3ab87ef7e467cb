package layout

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/stellaops/mirror/pkg/bundle"
	"github.com/stellaops/mirror/pkg/errdef"
)

// AddFile writes a file of the human view (advisories/…, scripts/…,
// docs/…) from r, hashing it on the way, and makes the blob of the same
// content (a hard link where the filesystem allows, a copy otherwise). It
// returns the content's descriptor with the given media type.
func (d *Dir) AddFile(ctx context.Context, name string, r io.Reader, mediaType string, perm os.FileMode) (ocispec.Descriptor, error) {
	if err := bundle.ValidPath(name); err != nil {
		return ocispec.Descriptor{}, fmt.Errorf("%v: %w", err, errdef.ErrMalformed)
	}
	path := filepath.Join(d.root, filepath.FromSlash(name))
	if err := mkdirAll(filepath.Dir(path)); err != nil {
		return ocispec.Descriptor{}, err
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".tmp-")
	if err != nil {
		return ocispec.Descriptor{}, err
	}
	defer os.Remove(tmp.Name())
	h := sha256.New()
	buf := getCopyBuffer()
	defer putCopyBuffer(buf)
	n, err := copyBuffered(io.MultiWriter(tmp, h), r, buf)
	if err == nil {
		err = tmp.Close()
	} else {
		tmp.Close()
	}
	if err != nil {
		return ocispec.Descriptor{}, err
	}
	if err := os.Chmod(tmp.Name(), perm); err != nil {
		return ocispec.Descriptor{}, err
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return ocispec.Descriptor{}, err
	}
	desc := ocispec.Descriptor{MediaType: mediaType, Digest: digest.NewDigest(digest.SHA256, h), Size: n}
	if err := d.linkBlob(ctx, path, desc); err != nil {
		return ocispec.Descriptor{}, err
	}
	return desc, nil
}

// linkBlob makes the blob for desc from a file already verified to hold it.
func (d *Dir) linkBlob(ctx context.Context, path string, desc ocispec.Descriptor) error {
	blob := d.BlobPath(desc.Digest)
	if ok, _ := d.Exists(ctx, desc); ok {
		return nil
	}
	if err := mkdirAll(filepath.Dir(blob)); err != nil {
		return err
	}
	if err := os.Link(path, blob); err == nil || errors.Is(err, os.ErrExist) {
		return nil
	}
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	return d.Push(ctx, desc, f)
}

// LinkFile makes the human-view file name from a blob already in the
// directory (a hard link where the filesystem allows, a verified copy
// otherwise).
func (d *Dir) LinkFile(ctx context.Context, name string, desc ocispec.Descriptor, perm os.FileMode) error {
	if err := bundle.ValidPath(name); err != nil {
		return fmt.Errorf("%v: %w", err, errdef.ErrMalformed)
	}
	path := filepath.Join(d.root, filepath.FromSlash(name))
	if err := mkdirAll(filepath.Dir(path)); err != nil {
		return err
	}
	os.Remove(path)
	if err := os.Link(d.BlobPath(desc.Digest), path); err == nil {
		return os.Chmod(path, perm)
	}
	rc, err := d.Fetch(ctx, desc)
	if err != nil {
		return err
	}
	defer rc.Close()
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".tmp-")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	buf := getCopyBuffer()
	defer putCopyBuffer(buf)
	_, err = copyBuffered(tmp, rc, buf)
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Chmod(tmp.Name(), perm)
	}
	if err != nil {
		return err
	}
	return os.Rename(tmp.Name(), path)
}

// mkdirAll makes dir and its missing parents drwxr-xr-x whatever the
// umask, as the files of a bundle are -rw-r--r--: the loader that reads a
// bundle is often another user than the one who wrote it (root under
// umask 077). Directories that exist are left as they are.
func mkdirAll(dir string) error {
	if st, err := os.Stat(dir); err == nil && st.IsDir() {
		return nil
	}
	if parent := filepath.Dir(dir); parent != dir {
		if err := mkdirAll(parent); err != nil {
			return err
		}
	}
	err := os.Mkdir(dir, 0o755)
	if errors.Is(err, fs.ErrExist) {
		if st, serr := os.Stat(dir); serr == nil && st.IsDir() {
			return nil // made meanwhile, by another writer of the bundle
		}
	}
	if err != nil {
		return err
	}
	return os.Chmod(dir, 0o755)
}
