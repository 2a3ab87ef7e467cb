package e2e

import (
	"archive/tar"
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/klauspost/compress/gzip"
	"github.com/klauspost/compress/zstd"
	"github.com/opencontainers/go-digest"
	specs "github.com/opencontainers/image-spec/specs-go"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/stellaops/mirror/pkg/bundle"
	"github.com/stellaops/mirror/pkg/keys"
	"github.com/stellaops/mirror/pkg/layout"
)

// Exit codes (DESIGN.md).
const (
	na        = -1
	exitInput = 1
	exitDig   = 2
	exitExp   = 3
	exitSig   = 5
	exitGen   = 8
	exitMal   = 11
)

// both writes f as a directory and as a plain tar.
func both(t *testing.T, work string, f *forged, culprit string) hostile {
	return hostile{dir: f.writeDir(t, filepath.Join(work, "bundle")), tar: f.writeTar(t, filepath.Join(work, "bundle.tar")), culprit: culprit}
}

// archiveOnly writes f as a plain tar.
func archiveOnly(t *testing.T, work string, f *forged, culprit string) hostile {
	return hostile{tar: f.writeTar(t, filepath.Join(work, "bundle.tar")), culprit: culprit}
}

// parts names the pieces of the good bundle the attacks aim at.
type parts struct {
	m         *bundle.Manifest
	authority *bundle.Image
	manifest  *ocispec.Manifest
	layer     ocispec.Descriptor // authority's own layer
	config    ocispec.Descriptor
	index     digest.Digest // scanner-web's image index
	root      digest.Digest
}

func (c *corpus) parts(t *testing.T, f *forged) parts {
	t.Helper()
	p := parts{m: f.manifest(t)}
	p.authority = imageOf(t, p.m, "authority")
	p.manifest = f.parseManifestDoc(t, p.authority.Digest)
	p.layer, p.config = p.manifest.Layers[len(p.manifest.Layers)-1], p.manifest.Config
	p.index = imageOf(t, p.m, "scanner-web").Digest
	for _, d := range f.index(t).Manifests {
		if d.ArtifactType == bundle.ArtifactTypeBundle {
			p.root = d.Digest
		}
	}
	return p
}

// flipCase flips a byte of the file name picks.
func flipCase(name string, pick func(p parts) (file string, at int, culprit string), code int) tamperCase {
	return tamperCase{name: name, verify: code, imp: code, serve: code, build: func(t *testing.T, c *corpus, work string) hostile {
		f := c.good.clone()
		file, at, culprit := pick(c.parts(t, f))
		f.flip(t, file, at)
		return both(t, work, f, culprit)
	}}
}

// resigned alters manifest.json (and what it names) and signs it again
// with the trusted key.
func resigned(name string, code int, alter func(t *testing.T, f *forged, p parts) (culprit string)) tamperCase {
	return tamperCase{name: name, verify: code, imp: code, serve: code, build: func(t *testing.T, c *corpus, work string) hostile {
		f := c.good.clone()
		p := c.parts(t, f)
		culprit := alter(t, f, p)
		f.resign(t, p.m, c.key, devPassword)
		return both(t, work, f, culprit)
	}}
}

// withEntry adds a raw entry to the archive of the good bundle, removing
// the file of the same name (if drop).
func withEntry(name string, hdr func(c *corpus, p parts) tar.Header, drop bool, culprit func(p parts) string) tamperCase {
	return tamperCase{name: name, verify: exitMal, imp: exitMal, serve: exitMal, build: func(t *testing.T, c *corpus, work string) hostile {
		f := c.good.clone()
		p := c.parts(t, f)
		h := hdr(c, p)
		if drop {
			delete(f.files, h.Name)
		}
		f.entries = append(f.entries, rawEntry{hdr: h, first: !drop})
		return archiveOnly(t, work, f, culprit(p))
	}}
}

// tamperCases is the corpus. The exit codes follow DESIGN.md: content
// that does not hash to what was signed, or is missing, is 2; a signature
// that is missing, broken or by an untrusted key is 5; a bundle past its
// expiry is 3; an archive entry or a document that breaks the format or a
// bound (escaping names, links, devices, duplicates, truncation, bombs,
// oversize documents, nesting, index.json against manifest.json) is 11.
// A generation is older only than what a registry holds, so only import
// refuses it (8); serve refuses a compressed archive before reading it,
// as it cannot read one at random (1, naming the file).
func tamperCases() []tamperCase {
	blob := func(d digest.Digest) string { return layout.BlobName(d) }
	return []tamperCase{
		flipCase("flipped byte in a layer", func(p parts) (string, int, string) {
			return blob(p.layer.Digest), 1000, p.layer.Digest.Encoded()
		}, exitDig),
		flipCase("flipped byte in a config", func(p parts) (string, int, string) {
			return blob(p.config.Digest), 10, p.config.Digest.Encoded()
		}, exitDig),
		flipCase("flipped byte in an image manifest", func(p parts) (string, int, string) {
			return blob(p.authority.Digest), 10, p.authority.Digest.Encoded()
		}, exitDig),
		flipCase("flipped byte in an image index", func(p parts) (string, int, string) {
			return blob(p.index), 10, p.index.Encoded()
		}, exitDig),
		flipCase("flipped byte in the root index", func(p parts) (string, int, string) {
			return blob(p.root), 10, p.root.Encoded()
		}, exitDig),
		flipCase("flipped byte in manifest.json", func(p parts) (string, int, string) {
			return layout.ManifestFile, 40, layout.ManifestFile
		}, exitSig),
		{name: "flipped byte in the envelope payload", verify: exitSig, imp: exitSig, serve: exitSig, build: func(t *testing.T, c *corpus, work string) hostile {
			f := c.good.clone()
			flipBase64(t, f, `"payload":"`)
			return both(t, work, f, layout.EnvelopeFile)
		}},
		{name: "flipped byte in the signature", verify: exitSig, imp: exitSig, serve: exitSig, build: func(t *testing.T, c *corpus, work string) hostile {
			f := c.good.clone()
			flipBase64(t, f, `"sig":"`)
			return both(t, work, f, layout.EnvelopeFile)
		}},
		{name: "valid signature by an untrusted key", verify: exitSig, imp: exitSig, serve: exitSig, build: func(t *testing.T, c *corpus, work string) hostile {
			f := c.good.clone()
			f.resign(t, f.manifest(t), c.other+".key", "x")
			return both(t, work, f, keyID(t, c.other+".pub"))
		}},
		{name: "no signature", verify: exitSig, imp: exitSig, serve: exitSig, build: func(t *testing.T, c *corpus, work string) hostile {
			f := c.good.clone()
			delete(f.files, layout.EnvelopeFile)
			return both(t, work, f, layout.EnvelopeFile)
		}},
		{name: "index.json names an image manifest.json does not", verify: exitMal, imp: exitMal, serve: exitMal, build: func(t *testing.T, c *corpus, work string) hostile {
			f := c.good.clone()
			p := c.parts(t, f)
			evil := backdoor(t, f, p)
			idx := f.index(t)
			evil.Annotations = map[string]string{ocispec.AnnotationRefName: "stellaops/backdoor:" + p.m.Release.Version}
			idx.Manifests = append(idx.Manifests, evil)
			f.setIndex(t, idx)
			return both(t, work, f, evil.Digest.Encoded())
		}},
		{name: "empty digest in a manifest index.json reaches", verify: exitMal, imp: exitMal, serve: exitMal, build: func(t *testing.T, c *corpus, work string) hostile {
			// Read (in an archive) before the signature is checked; an
			// empty digest used to crash the reader (go-digest panics).
			f := c.good.clone()
			p := c.parts(t, f)
			man := *p.manifest
			man.Config.Digest = ""
			evil := f.putJSON(t, ocispec.MediaTypeImageManifest, man)
			idx := f.index(t)
			evil.Annotations = map[string]string{ocispec.AnnotationRefName: "stellaops/backdoor:" + p.m.Release.Version}
			idx.Manifests = append(idx.Manifests, evil)
			f.setIndex(t, idx)
			return both(t, work, f, evil.Digest.Encoded())
		}},
		{name: "manifest.json names an image index.json does not", verify: exitMal, imp: exitMal, serve: exitMal, build: func(t *testing.T, c *corpus, work string) hostile {
			f := c.good.clone()
			p := c.parts(t, f)
			idx := f.index(t)
			concelier := imageOf(t, p.m, "concelier")
			var kept []ocispec.Descriptor
			for _, d := range idx.Manifests {
				if d.Digest != concelier.Digest {
					kept = append(kept, d)
				}
			}
			idx.Manifests = kept
			f.setIndex(t, idx)
			return both(t, work, f, concelier.Digest.Encoded())
		}},
		{name: "root index lists an image manifest.json does not", verify: exitMal, imp: exitMal, serve: exitMal, build: func(t *testing.T, c *corpus, work string) hostile {
			f := c.good.clone()
			p := c.parts(t, f)
			evil := backdoor(t, f, p)
			var root ocispec.Index
			if err := json.Unmarshal(f.blob(t, p.root), &root); err != nil {
				t.Fatal(err)
			}
			evil.Annotations = map[string]string{bundle.AnnotationRole: bundle.RoleImage, bundle.AnnotationRepository: "stellaops/backdoor"}
			root.Manifests = append(root.Manifests, evil)
			newRoot := f.putJSON(t, ocispec.MediaTypeImageIndex, root)
			idx := f.index(t)
			for i, d := range idx.Manifests {
				if d.Digest == p.root {
					idx.Manifests[i].Digest, idx.Manifests[i].Size = newRoot.Digest, newRoot.Size
				}
			}
			f.setIndex(t, idx)
			return both(t, work, f, evil.Digest.Encoded())
		}},
		resigned("descriptor size larger than the content", exitDig, func(t *testing.T, f *forged, p parts) string {
			return lieAboutSize(t, f, p, +1)
		}),
		resigned("descriptor size smaller than the content", exitDig, func(t *testing.T, f *forged, p parts) string {
			return lieAboutSize(t, f, p, -1)
		}),
		{name: "missing blob", verify: exitDig, imp: exitDig, serve: exitDig, build: func(t *testing.T, c *corpus, work string) hostile {
			f := c.good.clone()
			p := c.parts(t, f)
			delete(f.files, blob(p.layer.Digest))
			return both(t, work, f, p.layer.Digest.Encoded())
		}},
		{name: "../ in a signed advisory path", verify: exitMal, imp: exitMal, serve: exitMal, build: func(t *testing.T, c *corpus, work string) hostile {
			f := c.good.clone()
			m := f.manifest(t)
			m.Advisories[0].Path = "advisories/../../../../../../.." + c.escape + "-signed"
			f.resign(t, m, c.key, devPassword)
			return both(t, work, f, "advisories/../")
		}},
		withEntry("../ entry", func(c *corpus, _ parts) tar.Header {
			return tar.Header{Name: "../../../../../../../.." + c.escape, Typeflag: tar.TypeReg, Mode: 0o644}
		}, false, func(parts) string { return "../../" }),
		withEntry("absolute entry", func(c *corpus, _ parts) tar.Header {
			return tar.Header{Name: c.escape + "-abs", Typeflag: tar.TypeReg, Mode: 0o644}
		}, false, func(parts) string { return "-abs" }),
		{name: "symlink", verify: exitMal, imp: exitMal, serve: exitMal, build: func(t *testing.T, c *corpus, work string) hostile {
			f := c.good.clone()
			p := c.parts(t, f)
			// The link leads to the right bytes: only the rule refuses it.
			elsewhere := filepath.Join(work, "elsewhere")
			if err := os.WriteFile(elsewhere, f.blob(t, p.layer.Digest), 0o644); err != nil {
				t.Fatal(err)
			}
			f.specials = append(f.specials, special{name: blob(p.layer.Digest), target: elsewhere})
			h := hostile{dir: f.writeDir(t, filepath.Join(work, "bundle")), culprit: p.layer.Digest.Encoded()}
			a := c.good.clone()
			delete(a.files, blob(p.layer.Digest))
			a.entries = append(a.entries, rawEntry{hdr: tar.Header{Name: blob(p.layer.Digest), Typeflag: tar.TypeSymlink, Linkname: elsewhere}})
			h.tar = a.writeTar(t, filepath.Join(work, "bundle.tar"))
			return h
		}},
		withEntry("hardlink entry", func(_ *corpus, p parts) tar.Header {
			return tar.Header{Name: blob(p.layer.Digest), Typeflag: tar.TypeLink, Linkname: blob(p.config.Digest)}
		}, true, func(p parts) string { return p.layer.Digest.Encoded() }),
		{name: "device", verify: exitMal, imp: exitMal, serve: exitMal, build: func(t *testing.T, c *corpus, work string) hostile {
			f := c.good.clone()
			p := c.parts(t, f)
			h := hostile{culprit: p.layer.Digest.Encoded()}
			dir := f.writeDir(t, filepath.Join(work, "bundle"))
			dev := filepath.Join(dir, filepath.FromSlash(blob(p.layer.Digest)))
			os.Remove(dev)
			// /dev/zero: a read would never end. Only root may make one.
			if err := syscall.Mknod(dev, syscall.S_IFCHR|0o644, 1<<8|5); err == nil {
				h.dir = dir
			} else {
				t.Logf("no device in the directory form: %v", err)
				os.RemoveAll(dir)
			}
			delete(f.files, blob(p.layer.Digest))
			f.entries = append(f.entries, rawEntry{hdr: tar.Header{Name: blob(p.layer.Digest), Typeflag: tar.TypeChar, Devmajor: 1, Devminor: 5, Mode: 0o644}})
			h.tar = f.writeTar(t, filepath.Join(work, "bundle.tar"))
			return h
		}},
		{name: "named pipe", verify: exitMal, imp: exitMal, serve: exitMal, build: func(t *testing.T, c *corpus, work string) hostile {
			f := c.good.clone()
			// Opening a pipe for reading waits for a writer that never comes.
			f.specials = append(f.specials, special{name: layout.EnvelopeFile})
			h := hostile{dir: f.writeDir(t, filepath.Join(work, "bundle")), culprit: layout.EnvelopeFile}
			a := c.good.clone()
			delete(a.files, layout.EnvelopeFile)
			a.entries = append(a.entries, rawEntry{hdr: tar.Header{Name: layout.EnvelopeFile, Typeflag: tar.TypeFifo, Mode: 0o644}, first: true})
			h.tar = a.writeTar(t, filepath.Join(work, "bundle.tar"))
			return h
		}},
		{name: "duplicate entries with different content", verify: exitMal, imp: exitMal, serve: exitMal, build: func(t *testing.T, c *corpus, work string) hostile {
			f := c.good.clone()
			p := c.parts(t, f)
			evil := append([]byte(nil), f.blob(t, p.layer.Digest)...)
			evil[1000] ^= 0x20
			f.entries = append(f.entries, rawEntry{hdr: tar.Header{Name: blob(p.layer.Digest), Typeflag: tar.TypeReg, Mode: 0o644, Size: int64(len(evil))}, data: evil})
			return archiveOnly(t, work, f, p.layer.Digest.Encoded())
		}},
		{name: "truncated archive", verify: exitMal, imp: exitMal, serve: exitMal, build: func(t *testing.T, c *corpus, work string) hostile {
			file := c.good.clone().writeTar(t, filepath.Join(work, "bundle.tar"))
			st, _ := os.Stat(file)
			if err := os.Truncate(file, st.Size()*3/5+100); err != nil {
				t.Fatal(err)
			}
			return hostile{tar: file, culprit: "truncated"}
		}},
		{name: "gzip bomb", verify: exitMal, imp: exitMal, serve: exitInput, build: func(t *testing.T, c *corpus, work string) hostile {
			return bomb(t, filepath.Join(work, "bomb.tar.gz"), gzipFrame)
		}},
		{name: "zstd bomb", verify: exitMal, imp: exitMal, serve: exitInput, build: func(t *testing.T, c *corpus, work string) hostile {
			return bomb(t, filepath.Join(work, "bomb.tar.zst"), zstdFrame)
		}},
		{name: "manifest.json over 4 MiB", verify: exitMal, imp: exitMal, serve: exitMal, build: func(t *testing.T, c *corpus, work string) hostile {
			f := c.good.clone()
			f.files[layout.ManifestFile] = append(f.files[layout.ManifestFile], bytes.Repeat([]byte(" "), bundle.MaxManifestSize)...)
			return both(t, work, f, layout.ManifestFile)
		}},
		resigned("image manifest over 4 MiB", exitMal, func(t *testing.T, f *forged, p parts) string {
			p.manifest.Annotations = map[string]string{"padding": strings.Repeat("x", bundle.MaxManifestSize)}
			d := f.putJSON(t, ocispec.MediaTypeImageManifest, p.manifest)
			p.authority.Digest, p.authority.Size, p.authority.Referrers = d.Digest, d.Size, nil
			return d.Digest.Encoded()
		}),
		resigned("indexes nested 12 deep", exitMal, func(t *testing.T, f *forged, p parts) string {
			d := descOf(p.authority)
			for range 12 {
				d = f.putJSON(t, ocispec.MediaTypeImageIndex, ocispec.Index{Versioned: specs.Versioned{SchemaVersion: 2}, MediaType: ocispec.MediaTypeImageIndex, Manifests: []ocispec.Descriptor{d}})
			}
			p.authority.Digest, p.authority.Size, p.authority.MediaType, p.authority.Referrers = d.Digest, d.Size, d.MediaType, nil
			return "nest deeper"
		}),
		resigned("expired", exitExp, func(t *testing.T, f *forged, p parts) string {
			p.m.CreatedAt = time.Now().Add(-100 * 24 * time.Hour).UTC().Truncate(time.Second)
			p.m.ExpiresAt = p.m.CreatedAt.Add(90 * 24 * time.Hour)
			return "expired"
		}),
		{name: "older generation", verify: na, imp: exitGen, serve: na, build: func(t *testing.T, c *corpus, work string) hostile {
			f := c.good.clone()
			m := f.manifest(t)
			m.MirrorGeneration = goodGeneration - 1
			f.resign(t, m, c.key, devPassword)
			h := both(t, work, f, "generation 99")
			h.importArgs = []string{"--repo-prefix", heldPrefix, "--bundle-repo", heldRepo}
			return h
		}},
	}
}

// flipBase64 changes the case of a letter in the middle of the base64
// string that follows marker in manifest.dsse: still base64, other bytes.
func flipBase64(t *testing.T, f *forged, marker string) {
	t.Helper()
	env := f.files[layout.EnvelopeFile]
	i := bytes.Index(env, []byte(marker))
	if i < 0 {
		t.Fatalf("no %s in the envelope", marker)
	}
	end := i + len(marker) + bytes.IndexByte(env[i+len(marker):], '"')
	for j := (i + len(marker) + end) / 2; j < end; j++ {
		if ch := env[j] | 0x20; ch >= 'a' && ch <= 'z' {
			env[j] ^= 0x20
			return
		}
	}
	t.Fatal("no letter to flip")
}

// backdoor adds an image manifest the bundle does not name: authority's
// with an annotation.
func backdoor(t *testing.T, f *forged, p parts) ocispec.Descriptor {
	t.Helper()
	man := *p.manifest
	man.Annotations = map[string]string{"evil": "yes"}
	return f.putJSON(t, ocispec.MediaTypeImageManifest, man)
}

// lieAboutSize makes authority's own layer descriptor say the layer is
// delta bytes longer than it is, and the chain above it agree.
func lieAboutSize(t *testing.T, f *forged, p parts, delta int64) string {
	t.Helper()
	man := *p.manifest
	man.Layers = append([]ocispec.Descriptor(nil), man.Layers...)
	man.Layers[len(man.Layers)-1].Size += delta
	d := f.putJSON(t, ocispec.MediaTypeImageManifest, man)
	p.authority.Digest, p.authority.Size, p.authority.Referrers = d.Digest, d.Size, nil
	return p.layer.Digest.Encoded()
}

func keyID(t *testing.T, pubPath string) string {
	t.Helper()
	vs, err := keys.LoadVerifiers(context.Background(), pubPath)
	if err != nil {
		t.Fatal(err)
	}
	return vs[0].KeyID()
}

// Frames of a decompression bomb: one frame per chunk; decoders read
// concatenated frames as one stream.
func gzipFrame(t *testing.T, data []byte) []byte {
	var b bytes.Buffer
	zw, _ := gzip.NewWriterLevel(&b, gzip.BestCompression)
	zw.Write(data)
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

func zstdFrame(t *testing.T, data []byte) []byte {
	enc, err := zstd.NewWriter(nil, zstd.WithEncoderLevel(zstd.SpeedBestCompression))
	if err != nil {
		t.Fatal(err)
	}
	defer enc.Close()
	return enc.EncodeAll(data, nil)
}

// bomb writes a small archive that decompresses to 4 GiB: a tar whose
// first entry is a blob of 4 GiB of zeros.
func bomb(t *testing.T, path string, frame func(*testing.T, []byte) []byte) hostile {
	t.Helper()
	const size = 4 << 30
	name := layout.BlobName(digest.FromString("bomb"))
	var hdr bytes.Buffer
	tw := tar.NewWriter(&hdr)
	if err := tw.WriteHeader(&tar.Header{Name: name, Size: size, Mode: 0o644, Typeflag: tar.TypeReg, Format: tar.FormatUSTAR}); err != nil {
		t.Fatal(err)
	}
	out := frame(t, hdr.Bytes())
	zeros := frame(t, make([]byte, 1<<20))
	for range size >> 20 {
		out = append(out, zeros...)
	}
	out = append(out, frame(t, make([]byte, 1024))...)
	if err := os.WriteFile(path, out, 0o644); err != nil {
		t.Fatal(err)
	}
	t.Logf("%s: %d bytes for %d", filepath.Base(path), len(out), int64(size))
	return hostile{tar: path, culprit: name, serveCulprit: "compressed"}
}
