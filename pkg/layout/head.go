package layout

import (
	"fmt"
	"io"

	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/stellaops/mirror/pkg/bundle"
	"github.com/stellaops/mirror/pkg/errdef"
)

// MaxHeadFiles bounds how many documents a head may hold: every manifest of
// every image (several per multi-platform image) and the head files.
const MaxHeadFiles = 16 * bundle.MaxImages

// Head is what leads a packed bundle: the head files (oci-layout,
// index.json, manifest.json, manifest.dsse, keys, certificates, sums) and
// every manifest and index reachable from index.json, each verified against
// the descriptor that reached it. Nothing in it is trusted until the
// signature over manifest.json verifies and the root is checked against it.
type Head struct {
	Files  map[string][]byte
	Docs   map[digest.Digest][]byte
	wanted map[digest.Digest]ocispec.Descriptor
}

// ReadHead reads entries while they are head files or manifests reachable
// from index.json. It returns the first entry that is neither (pending; nil
// at the end of the archive), whose content is still to be read from t.
func ReadHead(t *TarReader) (*Head, *Entry, error) {
	h := &Head{Files: map[string][]byte{}, Docs: map[digest.Digest][]byte{}, wanted: map[digest.Digest]ocispec.Descriptor{}}
	for {
		e, err := t.Next()
		if err == io.EOF {
			return h, nil, nil
		}
		if err != nil {
			return nil, nil, err
		}
		took, err := h.take(t, e)
		if err != nil {
			return nil, nil, err
		}
		if !took {
			return h, e, nil
		}
	}
}

// Complete reports whether the head holds index.json and every manifest
// reachable from it. It is false for an archive not in pack order, where
// some manifest came after the first other blob.
func (h *Head) Complete() bool { return len(h.wanted) == 0 && h.Files[IndexFile] != nil }

// Take offers the current entry to the head: a head file or a wanted
// manifest is read, verified and kept (true); anything else is left
// unread (false).
func (h *Head) Take(t *TarReader, e *Entry) (bool, error) { return h.take(t, e) }

func (h *Head) take(t *TarReader, e *Entry) (bool, error) {
	if len(h.Files)+len(h.Docs) > MaxHeadFiles {
		return false, fmt.Errorf("archive: more than %d documents: %w", MaxHeadFiles, errdef.ErrMalformed)
	}
	if IsHeadFile(e.Name) {
		data, err := t.ReadEntry(bundle.MaxManifestSize)
		if err != nil {
			return false, err
		}
		h.Files[e.Name] = data
		if e.Name == IndexFile {
			idx, err := ParseIndex(data)
			if err != nil {
				return false, err
			}
			for _, d := range idx.Manifests {
				h.want(d)
			}
		}
		return true, nil
	}
	dg, ok := BlobDigest(e.Name)
	if !ok {
		return false, nil
	}
	desc, wanted := h.wanted[dg]
	if !wanted {
		return false, nil
	}
	if e.Size != desc.Size {
		return false, fmt.Errorf("archive entry %s: %d bytes, its descriptor says %d: %w", e.Name, e.Size, desc.Size, errdef.ErrDigestMismatch)
	}
	data, err := t.ReadEntry(bundle.MaxManifestSize)
	if err != nil {
		return false, err
	}
	if err := bundle.VerifyBytes(data, desc); err != nil {
		return false, fmt.Errorf("archive entry %s: %w", e.Name, err)
	}
	children, err := bundle.Children(desc, data)
	if err != nil {
		return false, err
	}
	delete(h.wanted, dg)
	h.Docs[dg] = data
	for _, c := range children {
		if bundle.IsManifestMediaType(c.MediaType) {
			h.want(c)
		}
	}
	return true, nil
}

func (h *Head) want(d ocispec.Descriptor) {
	if _, done := h.Docs[d.Digest]; !done && bundle.IsManifestMediaType(d.MediaType) {
		h.wanted[d.Digest] = d
	}
}

// Missing lists the manifests reachable from index.json that the head does
// not hold.
func (h *Head) Missing() []ocispec.Descriptor {
	var out []ocispec.Descriptor
	for _, d := range h.wanted {
		out = append(out, d)
	}
	return out
}

// BlobDigest returns the digest a "blobs/sha256/<hex>" entry name claims.
func BlobDigest(name string) (digest.Digest, bool) {
	const prefix = BlobsDir + "/sha256/"
	if len(name) != len(prefix)+64 || name[:len(prefix)] != prefix {
		return "", false
	}
	dg := digest.NewDigestFromEncoded(digest.SHA256, name[len(prefix):])
	return dg, dg.Validate() == nil
}
