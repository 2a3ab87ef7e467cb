package layout

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strings"

	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/stellaops/mirror/pkg/bundle"
	"github.com/stellaops/mirror/pkg/errdef"
)

// headFiles are the bundle files that lead a packed tar, in this order: an
// importer has the layout, the signed statement, the signature and the
// checksums before the first blob.
var headFiles = []string{
	OCILayoutFile, IndexFile, ManifestFile, EnvelopeFile, PublicKeyFile,
	CertificateFile, CertificateChainFile, ChecksumsFile, ChecksumsSigFile,
}

// Certificate files that sign --certificate/--certificate-chain carry.
const (
	CertificateFile      = "certificate.pem"
	CertificateChainFile = "certificate-chain.pem"
)

// HeadFiles returns the names of the files that lead a packed tar, in
// their order.
func HeadFiles() []string { return append([]string(nil), headFiles...) }

// IsHeadFile reports whether name is one of the files that lead a packed
// tar.
func IsHeadFile(name string) bool {
	for _, h := range headFiles {
		if h == name {
			return true
		}
	}
	return false
}

// packOrder returns the entries of a packed tar in order: head files, then
// every manifest and index (breadth-first from index.json), then configs and
// the metadata and signature layers (manifest.json, advisories, scripts,
// docs, envelope), then image layers, then the human view. listed is the
// set of files SHA256SUMS names; every one of them appears exactly once.
func (d *Dir) packOrder(ctx context.Context, listed map[string]bool, omitted map[digest.Digest]bool) ([]string, error) {
	idx, err := d.Index()
	if err != nil {
		return nil, err
	}
	var manifests, small, layers []digest.Digest
	seen := map[digest.Digest]bool{}
	queue := append([]ocispec.Descriptor(nil), idx.Manifests...)
	for len(queue) > 0 {
		desc := queue[0]
		queue = queue[1:]
		if seen[desc.Digest] {
			continue
		}
		seen[desc.Digest] = true
		manifests = append(manifests, desc.Digest)
		data, err := d.FetchBytes(ctx, desc)
		if errors.Is(err, errdef.ErrNotFound) && listed[BlobName(desc.Digest)] {
			return nil, d.listedMissing(BlobName(desc.Digest))
		}
		if err != nil {
			return nil, err
		}
		children, err := bundle.Children(desc, data)
		if err != nil {
			return nil, err
		}
		var man ocispec.Manifest
		isArtifact := false
		if !bundle.IsIndexMediaType(desc.MediaType) {
			if err := json.Unmarshal(data, &man); err == nil {
				isArtifact = man.ArtifactType == bundle.ArtifactTypeMetadata || man.ArtifactType == bundle.ArtifactTypeDSSE
			}
		}
		for i, c := range children {
			if bundle.IsManifestMediaType(c.MediaType) {
				queue = append(queue, c)
				continue
			}
			if seen[c.Digest] {
				continue
			}
			seen[c.Digest] = true
			if i == 0 || isArtifact {
				small = append(small, c.Digest)
			} else {
				layers = append(layers, c.Digest)
			}
		}
	}
	var order []string
	add := func(name string) error {
		if !listed[name] {
			return fmt.Errorf("%s: %s is not listed in %s: %w", d.root, name, ChecksumsFile, errdef.ErrMalformed)
		}
		delete(listed, name)
		order = append(order, name)
		return nil
	}
	for _, h := range headFiles {
		if listed[h] || h == ChecksumsFile || (h == ChecksumsSigFile && d.has(h)) {
			order = append(order, h)
			delete(listed, h)
		}
	}
	for _, group := range [][]digest.Digest{manifests, small, layers} {
		for _, dg := range group {
			if omitted[dg] && !listed[BlobName(dg)] {
				continue // a delta's base holds it
			}
			if err := add(BlobName(dg)); err != nil {
				return nil, err
			}
		}
	}
	var rest []string
	for name := range listed {
		rest = append(rest, name)
	}
	// Blobs the graph does not reach go before the human view, in name
	// order; the human view goes last.
	sort.Slice(rest, func(i, j int) bool {
		bi, bj := strings.HasPrefix(rest[i], BlobsDir+"/"), strings.HasPrefix(rest[j], BlobsDir+"/")
		if bi != bj {
			return bi
		}
		return rest[i] < rest[j]
	})
	return append(order, rest...), nil
}

func (d *Dir) has(name string) bool {
	f, err := d.openFile(name)
	if err != nil {
		return false
	}
	f.Close()
	return true
}
