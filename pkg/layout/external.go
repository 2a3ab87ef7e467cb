package layout

import (
	"sync"

	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

// external are blobs of a bundle under construction that are not in the
// directory but will be written straight into its archive (create
// --output FILE.tar): they count as present for SHA256SUMS and pack, which
// leaves room for them, and are verified as they are written there.
type external struct {
	mu    sync.Mutex
	blobs map[digest.Digest]ocispec.Descriptor
}

// AddExternal registers a blob that the archive will get from elsewhere.
func (d *Dir) AddExternal(desc ocispec.Descriptor) {
	d.ext.mu.Lock()
	defer d.ext.mu.Unlock()
	if d.ext.blobs == nil {
		d.ext.blobs = map[digest.Digest]ocispec.Descriptor{}
	}
	d.ext.blobs[desc.Digest] = ocispec.Descriptor{MediaType: desc.MediaType, Digest: desc.Digest, Size: desc.Size}
}

// External reports whether dg is an external blob, with its descriptor.
func (d *Dir) External(dg digest.Digest) (ocispec.Descriptor, bool) {
	d.ext.mu.Lock()
	defer d.ext.mu.Unlock()
	desc, ok := d.ext.blobs[dg]
	return desc, ok
}

// externals lists the external blobs.
func (d *Dir) externals() []ocispec.Descriptor {
	d.ext.mu.Lock()
	defer d.ext.mu.Unlock()
	out := make([]ocispec.Descriptor, 0, len(d.ext.blobs))
	for _, desc := range d.ext.blobs {
		out = append(out, desc)
	}
	return out
}
