package e2e

import (
	"archive/tar"
	"context"
	"encoding/base64"
	"encoding/json"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"syscall"
	"testing"

	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/stellaops/mirror/pkg/bundle"
	"github.com/stellaops/mirror/pkg/dsse"
	"github.com/stellaops/mirror/pkg/keys"
	"github.com/stellaops/mirror/pkg/layout"
	"github.com/stellaops/mirror/pkg/mirror"
)

// forged is a bundle held in memory, file by file, so that the tamper
// corpus can alter a good one and write it out as a directory or as a
// plain tar in pack order. Nothing here checks anything: it writes what it
// is told, as an attacker would.
type forged struct {
	files map[string][]byte
	// entries are raw tar entries added when written as a tar: symlinks,
	// devices, escaping names, duplicates. first puts one before every file.
	entries []rawEntry
	// specials are made when written as a directory: a symlink (target set)
	// or a named pipe in place of a file.
	specials []special
}

type rawEntry struct {
	hdr   tar.Header
	data  []byte
	first bool
}

type special struct {
	name, target string
}

// loadForged reads every file of a bundle directory.
func loadForged(t *testing.T, dir string) *forged {
	t.Helper()
	f := &forged{files: map[string][]byte{}}
	err := filepath.WalkDir(dir, func(p string, e fs.DirEntry, err error) error {
		if err != nil || e.IsDir() {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		data, err := os.ReadFile(p)
		f.files[filepath.ToSlash(rel)] = data
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return f
}

func (f *forged) clone() *forged {
	c := &forged{files: map[string][]byte{}}
	for k, v := range f.files {
		c.files[k] = append([]byte(nil), v...)
	}
	return c
}

// blob returns a blob's bytes.
func (f *forged) blob(t *testing.T, dg digest.Digest) []byte {
	t.Helper()
	data, ok := f.files[layout.BlobName(dg)]
	if !ok {
		t.Fatalf("no blob %s", dg)
	}
	return data
}

// put adds a blob and returns its descriptor.
func (f *forged) put(mediaType string, data []byte) ocispec.Descriptor {
	d := ocispec.Descriptor{MediaType: mediaType, Digest: digest.FromBytes(data), Size: int64(len(data))}
	f.files[layout.BlobName(d.Digest)] = data
	return d
}

// putJSON adds a document as a blob.
func (f *forged) putJSON(t *testing.T, mediaType string, v any) ocispec.Descriptor {
	t.Helper()
	data, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return f.put(mediaType, data)
}

// flip inverts one byte of a file.
func (f *forged) flip(t *testing.T, name string, at int) {
	t.Helper()
	data, ok := f.files[name]
	if !ok || at >= len(data) {
		t.Fatalf("cannot flip byte %d of %s", at, name)
	}
	data[at] ^= 0x20
}

// manifest parses manifest.json.
func (f *forged) manifest(t *testing.T) *bundle.Manifest {
	t.Helper()
	m, err := bundle.ParseManifest(f.files[layout.ManifestFile])
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// index parses index.json.
func (f *forged) index(t *testing.T) *ocispec.Index {
	t.Helper()
	idx, err := layout.ParseIndex(f.files[layout.IndexFile])
	if err != nil {
		t.Fatal(err)
	}
	return idx
}

func (f *forged) setIndex(t *testing.T, idx *ocispec.Index) {
	t.Helper()
	data, err := bundle.Canonical(idx)
	if err != nil {
		t.Fatal(err)
	}
	f.files[layout.IndexFile] = data
}

// resign makes m the bundle's statement, as a signer who was fooled (or a
// thief of the key) would: manifest.json, the metadata manifest, the root,
// index.json, the envelope signed by the key at keyPath and its referrer,
// every one consistent with m; blobs nothing reaches any more are dropped.
// m is written as it is, unvalidated.
func (f *forged) resign(t *testing.T, m *bundle.Manifest, keyPath, password string) {
	t.Helper()
	ctx := context.Background()
	data, err := bundle.Canonical(m)
	if err != nil {
		t.Fatal(err)
	}
	f.files[layout.ManifestFile] = data
	mdesc := f.put(bundle.MediaTypeManifestJSON, data)
	meta, err := bundle.MetadataManifest(mdesc, m)
	if err != nil {
		t.Fatal(err)
	}
	root, err := bundle.RootIndex(m, meta.Descriptor)
	if err != nil {
		t.Fatal(err)
	}
	f.put(bundle.EmptyConfig.MediaType, bundle.EmptyConfigBytes)
	f.put(meta.Descriptor.MediaType, meta.Bytes)
	f.put(root.Descriptor.MediaType, root.Bytes)
	signer, err := keys.LoadSigner(ctx, keyPath, func() ([]byte, error) { return []byte(password), nil })
	if err != nil {
		t.Fatal(err)
	}
	env := dsse.New(bundle.PayloadType, data)
	if err := env.Sign(ctx, signer); err != nil {
		t.Fatal(err)
	}
	envBytes, err := env.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	f.files[layout.EnvelopeFile] = envBytes
	envDesc := f.put(bundle.ArtifactTypeDSSE, envBytes)
	ref, err := bundle.SignatureManifest(root.Descriptor, envDesc, m.CreatedAt)
	if err != nil {
		t.Fatal(err)
	}
	f.put(ref.Descriptor.MediaType, ref.Bytes)
	idx := mirror.LayoutIndex(m, root.Descriptor)
	refDesc := ref.Descriptor
	refDesc.ArtifactType = bundle.ArtifactTypeDSSE
	idx.Manifests = append(idx.Manifests, refDesc)
	f.setIndex(t, idx)
	reached, _ := f.walk()
	for name := range f.files {
		if dg, ok := layout.BlobDigest(name); ok && !reached[dg] {
			delete(f.files, name)
		}
	}
	// SHA256SUMS and its signature as sign writes them: the old ones list
	// the old manifest.dsse, and import would leave them behind, saying so.
	if _, ok := f.files[layout.ChecksumsFile]; ok {
		var sums []bundle.Checksum
		for name, data := range f.files {
			if name != layout.ChecksumsFile && name != layout.ChecksumsSigFile {
				sums = append(sums, bundle.Checksum{Path: name, Digest: digest.FromBytes(data)})
			}
		}
		list := bundle.FormatChecksums(sums)
		sig, err := signer.Sign(ctx, list)
		if err != nil {
			t.Fatal(err)
		}
		f.files[layout.ChecksumsFile] = list
		f.files[layout.ChecksumsSigFile] = []byte(base64.StdEncoding.EncodeToString(sig))
	}
}

// walk follows index.json breadth-first: every digest it reaches, and the
// manifests in the order met. Documents that do not parse are leaves.
func (f *forged) walk() (map[digest.Digest]bool, []digest.Digest) {
	reached := map[digest.Digest]bool{}
	var docs []digest.Digest
	idx, err := layout.ParseIndex(f.files[layout.IndexFile])
	if err != nil {
		return reached, nil
	}
	queue := append([]ocispec.Descriptor(nil), idx.Manifests...)
	for len(queue) > 0 {
		d := queue[0]
		queue = queue[1:]
		if reached[d.Digest] {
			continue
		}
		reached[d.Digest] = true
		data, ok := f.files[layout.BlobName(d.Digest)]
		if !ok || !bundle.IsManifestMediaType(d.MediaType) {
			continue
		}
		docs = append(docs, d.Digest)
		if children, err := bundle.Children(d, data); err == nil {
			queue = append(queue, children...)
		}
	}
	return reached, docs
}

// order lists the files as pack writes them: head files, manifests
// breadth-first, other blobs, then the human view.
func (f *forged) order() []string {
	var out []string
	done := map[string]bool{}
	add := func(name string) {
		if _, ok := f.files[name]; ok && !done[name] {
			done[name] = true
			out = append(out, name)
		}
	}
	for _, h := range []string{layout.OCILayoutFile, layout.IndexFile, layout.ManifestFile, layout.EnvelopeFile, layout.PublicKeyFile,
		layout.CertificateFile, layout.CertificateChainFile, layout.ChecksumsFile, layout.ChecksumsSigFile} {
		add(h)
	}
	_, docs := f.walk()
	for _, dg := range docs {
		add(layout.BlobName(dg))
	}
	var rest []string
	for name := range f.files {
		if !done[name] {
			rest = append(rest, name)
		}
	}
	sort.Slice(rest, func(i, j int) bool {
		bi, bj := strings.HasPrefix(rest[i], "blobs/"), strings.HasPrefix(rest[j], "blobs/")
		if bi != bj {
			return bi
		}
		return rest[i] < rest[j]
	})
	return append(out, rest...)
}

// writeDir writes the bundle as a directory at dir.
func (f *forged) writeDir(t *testing.T, dir string) string {
	t.Helper()
	for name, data := range f.files {
		p := filepath.Join(dir, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	for _, s := range f.specials {
		p := filepath.Join(dir, filepath.FromSlash(s.name))
		os.Remove(p)
		var err error
		if s.target != "" {
			err = os.Symlink(s.target, p)
		} else {
			err = syscall.Mkfifo(p, 0o644)
		}
		if err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// writeTar writes the bundle as a plain tar at file, in pack order, with
// the raw entries.
func (f *forged) writeTar(t *testing.T, file string) string {
	t.Helper()
	out, err := os.Create(file)
	if err != nil {
		t.Fatal(err)
	}
	defer out.Close()
	tw := tar.NewWriter(out)
	write := func(hdr *tar.Header, data []byte) {
		if err := tw.WriteHeader(hdr); err != nil {
			t.Fatal(err)
		}
		if _, err := tw.Write(data); err != nil {
			t.Fatal(err)
		}
	}
	for _, e := range f.entries {
		if e.first {
			write(&e.hdr, e.data)
		}
	}
	for _, name := range f.order() {
		data := f.files[name]
		write(&tar.Header{Name: name, Size: int64(len(data)), Mode: 0o644, Typeflag: tar.TypeReg, Format: tar.FormatPAX}, data)
	}
	for _, e := range f.entries {
		if !e.first {
			write(&e.hdr, e.data)
		}
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	return file
}

// imageOf returns the image of m named name.
func imageOf(t *testing.T, m *bundle.Manifest, name string) *bundle.Image {
	t.Helper()
	for i := range m.Images {
		if m.Images[i].Name == name {
			return &m.Images[i]
		}
	}
	t.Fatalf("no image %s", name)
	return nil
}

// descOf is an image's descriptor.
func descOf(img *bundle.Image) ocispec.Descriptor {
	return ocispec.Descriptor{MediaType: img.MediaType, Digest: img.Digest, Size: img.Size}
}

// parseManifestDoc decodes an image manifest blob.
func (f *forged) parseManifestDoc(t *testing.T, dg digest.Digest) *ocispec.Manifest {
	t.Helper()
	var man ocispec.Manifest
	if err := json.Unmarshal(f.blob(t, dg), &man); err != nil {
		t.Fatal(err)
	}
	return &man
}
