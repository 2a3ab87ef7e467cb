package serve

import (
	"bytes"
	"context"
	"io"

	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

// Source is what a Handler serves: repositories, their tags, manifests and
// blobs, and the referrers of each subject. Every method takes a repository
// name already checked against the spec's grammar, and must answer only for
// content placed in that repository. Implementations must be safe for
// concurrent use.
type Source interface {
	// Repositories returns the name of every repository, sorted.
	Repositories() []string
	// Tags returns a repository's tags, sorted; false if there is no such
	// repository.
	Tags(repo string) ([]string, bool)
	// Resolve returns the digest of the manifest tag names in repo.
	Resolve(repo, tag string) (digest.Digest, bool)
	// Manifest returns a manifest or index of repo and its descriptor (media
	// type, digest, size). It returns an error wrapping errdef.ErrNotFound
	// if repo holds no such manifest.
	Manifest(ctx context.Context, repo string, dg digest.Digest) (ocispec.Descriptor, []byte, error)
	// Blob opens a blob of repo (a manifest is a blob too) for random
	// access. It returns an error wrapping errdef.ErrNotFound if repo holds
	// no such blob.
	Blob(ctx context.Context, repo string, dg digest.Digest) (Blob, error)
	// Referrers returns the manifests of repo whose subject is dg, as the
	// referrers API lists them: media type, digest, size, artifactType and
	// annotations.
	Referrers(repo string, subject digest.Digest) []ocispec.Descriptor
}

// Blob is blob content opened for serving. Random access lets any number of
// clients read one file at once, each at its own offset, and lets a Range
// request cost nothing.
type Blob interface {
	io.ReaderAt
	io.Closer
	// Size is the blob's length in bytes.
	Size() int64
}

// BlobStore opens blobs by descriptor: a bundle directory, the offsets of a
// plain tar, or (later) a set of media volumes. It must check that the blob
// it opens has desc.Size bytes; Content relies on that, and on the caller
// having verified every blob's digest before serving. A blob a repository
// holds that the store cannot find is the server's failure (500, logged),
// never BLOB_UNKNOWN: the store changed after it was verified.
type BlobStore interface {
	OpenBlob(ctx context.Context, desc ocispec.Descriptor) (Blob, error)
}

// bytesBlob serves a document held in memory as a blob.
type bytesBlob struct{ *bytes.Reader }

func (bytesBlob) Close() error { return nil }

// NopCloser returns b as a Blob whose Close does nothing: for a section of a
// file that is shared by every reader and closed once, elsewhere.
func NopCloser(b interface {
	io.ReaderAt
	Size() int64
}) Blob {
	return nopCloser{b}
}

type nopCloser struct {
	sized interface {
		io.ReaderAt
		Size() int64
	}
}

func (n nopCloser) ReadAt(p []byte, off int64) (int, error) { return n.sized.ReadAt(p, off) }
func (n nopCloser) Size() int64                             { return n.sized.Size() }
func (nopCloser) Close() error                              { return nil }
