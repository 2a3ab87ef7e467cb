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
// every image (several per multi-platform image) and the head files, for
// as many images as a reader takes (bundle.MaxReadImages).
const MaxHeadFiles = 16 * bundle.MaxReadImages

// MaxHeadBytes bounds the bytes a head holds in all. A streamed archive's
// head is read before its signature can be checked, and each document's
// own bound (4 MiB) times MaxHeadFiles is far more than any machine holds;
// a release of bundle.MaxReadImages multi-platform images has some 60 MiB
// of manifests.
const MaxHeadBytes = 128 << 20

// Head is what leads a packed bundle: the head files (oci-layout,
// index.json, manifest.json, manifest.dsse, keys, certificates, sums) and
// every manifest and index reachable from index.json, each verified against
// the descriptor that reached it. Nothing in it is trusted until the
// signature over manifest.json verifies and the root is checked against it.
type Head struct {
	Files  map[string][]byte
	Docs   map[digest.Digest][]byte
	wanted map[digest.Digest]ocispec.Descriptor
	// candidates hold small blobs seen, in scan mode, before anything
	// wanted them: in an archive in another order a manifest can come
	// before its parent. Bounded by maxCandidateBytes.
	candidates     map[digest.Digest][]byte
	candidateBytes int64
	// held counts the bytes of Files and Docs (MaxHeadBytes).
	held int64
}

// Bounds of the candidates a scan keeps: manifests are rarely over 64 KiB;
// the total bounds memory whatever the archive holds. Each candidate counts
// candidateCost bytes besides its content, for its digest and map entry: a
// million empty blobs (a 7 MiB .tar.zst) were each kept at no cost, 180 MB
// in all.
const (
	maxCandidateSize  = 1 << 20
	maxCandidateBytes = 64 << 20
	candidateCost     = 512
)

// ReadHead reads entries while they are head files or manifests reachable
// from index.json. It returns the first entry that is neither (pending; nil
// at the end of the archive), whose content is still to be read from t.
func ReadHead(t *TarReader) (*Head, *Entry, error) {
	h := &Head{Files: map[string][]byte{}, Docs: map[digest.Digest][]byte{}, wanted: map[digest.Digest]ocispec.Descriptor{}, candidates: map[digest.Digest][]byte{}}
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

// Scan offers the current entry to the head, for an archive not in pack
// order: a head file or a wanted manifest is read, verified and kept, and
// so are small blobs that nothing wants yet, in case a manifest read later
// wants them.
func (h *Head) Scan(t *TarReader, e *Entry) error {
	took, err := h.take(t, e)
	if err != nil || took {
		return err
	}
	dg, ok := BlobDigest(e.Name)
	if !ok || e.Size > maxCandidateSize || h.candidateBytes+e.Size+candidateCost > maxCandidateBytes {
		return nil
	}
	if _, have := h.Docs[dg]; have {
		return nil
	}
	data, err := t.ReadEntry(maxCandidateSize)
	if err != nil {
		return err
	}
	h.candidates[dg] = data
	h.candidateBytes += e.Size + candidateCost
	return nil
}

// take reads the current entry into the head if it is a head file or a
// wanted manifest (verified, true); anything else is left unread (false).
func (h *Head) take(t *TarReader, e *Entry) (bool, error) {
	if len(h.Files)+len(h.Docs) > MaxHeadFiles {
		return false, fmt.Errorf("archive: more than %d documents: %w", MaxHeadFiles, errdef.ErrMalformed)
	}
	if IsHeadFile(e.Name) {
		if _, seen := h.Files[e.Name]; seen {
			return true, nil // a later pass over the same archive
		}
		if err := h.hold(e.Name, e.Size); err != nil {
			return false, err
		}
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
				if err := h.want(d); err != nil {
					return false, err
				}
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
	if err := h.hold(e.Name, e.Size); err != nil {
		return false, err
	}
	data, err := t.ReadEntry(bundle.MaxManifestSize)
	if err != nil {
		return false, err
	}
	return true, h.adopt(e.Name, desc, data)
}

// hold counts an entry's bytes against MaxHeadBytes before they are kept.
func (h *Head) hold(name string, size int64) error {
	if h.held+size > MaxHeadBytes {
		return fmt.Errorf("archive entry %s: the bundle's manifests and head files come to more than %d MiB: %w", name, MaxHeadBytes>>20, errdef.ErrMalformed)
	}
	h.held += size
	return nil
}

// adopt verifies a wanted manifest's bytes, keeps them, and wants its
// children.
func (h *Head) adopt(name string, desc ocispec.Descriptor, data []byte) error {
	if err := bundle.VerifyBytes(data, desc); err != nil {
		return fmt.Errorf("archive entry %s: %w", name, err)
	}
	children, err := bundle.Children(desc, data)
	if err != nil {
		return err
	}
	delete(h.wanted, desc.Digest)
	h.Docs[desc.Digest] = data
	for _, c := range children {
		if err := h.want(c); err != nil {
			return err
		}
	}
	return nil
}

// want marks a manifest as needed, adopting it at once if a scan already
// kept its bytes.
func (h *Head) want(d ocispec.Descriptor) error {
	if _, done := h.Docs[d.Digest]; done || !bundle.IsManifestMediaType(d.MediaType) {
		return nil
	}
	if data, ok := h.candidates[d.Digest]; ok {
		delete(h.candidates, d.Digest)
		h.candidateBytes -= int64(len(data)) + candidateCost
		if err := h.hold(BlobName(d.Digest), int64(len(data))); err != nil {
			return err
		}
		return h.adopt(BlobName(d.Digest), d, data)
	}
	h.wanted[d.Digest] = d
	return nil
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
