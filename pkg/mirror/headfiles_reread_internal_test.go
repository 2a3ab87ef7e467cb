package mirror

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strconv"
	"testing"

	"github.com/stellaops/mirror/pkg/bundle"
	"github.com/stellaops/mirror/pkg/layout"
)

// TestHeadFilesReadOnce: import, serve and verify check the signature over
// manifest.json, then parse manifest.json. From a directory or a plain tar
// they read it from the media twice, so a medium whose content changes
// between the two reads (a network share, a device that answers a second
// read otherwise, another process writing the directory) had the
// unsigned bytes parsed: images, tags, generation and expiry nobody
// signed. Every reader of a bundle now reads each head file once and
// parses the bytes the signature was checked over.
func TestHeadFilesReadOnce(t *testing.T) {
	ctx := context.Background()
	work, dir, kg, pass := unsignedBundle(t)
	if _, err := Sign(ctx, SignOptions{Manifest: filepath.Join(dir, layout.ManifestFile), Output: filepath.Join(dir, layout.EnvelopeFile), Key: kg.PrivateKey, Password: pass}); err != nil {
		t.Fatal(err)
	}
	archive := filepath.Join(work, "bundle.tar")
	if _, err := Pack(ctx, PackOptions{Dir: dir, Output: archive}); err != nil {
		t.Fatal(err)
	}
	signed, err := os.ReadFile(filepath.Join(dir, layout.ManifestFile))
	if err != nil {
		t.Fatal(err)
	}
	m, err := bundle.ParseManifest(signed)
	if err != nil {
		t.Fatal(err)
	}
	// The same length, still canonical: a generation of the attacker's.
	old := []byte(`"mirrorGeneration": ` + strconv.FormatInt(m.MirrorGeneration, 10))
	forged := bytes.Replace(signed, old, []byte(`"mirrorGeneration": 9`+strconv.FormatInt(m.MirrorGeneration, 10)[1:]), 1)
	if bytes.Equal(forged, signed) || len(forged) != len(signed) {
		t.Fatal("could not forge manifest.json")
	}
	trust := TrustOptions{Keys: []string{kg.PublicKey}}

	// change rewrites manifest.json on the media, in place.
	change := map[string]func(t *testing.T){
		dir: func(t *testing.T) {
			if err := os.WriteFile(filepath.Join(dir, layout.ManifestFile), forged, 0o644); err != nil {
				t.Fatal(err)
			}
		},
		archive: func(t *testing.T) {
			data, err := os.ReadFile(archive)
			if err != nil {
				t.Fatal(err)
			}
			// The head file comes first; its blob (a layer of the
			// metadata manifest) after.
			if !bytes.Contains(data, signed) {
				t.Fatal("manifest.json not found in the archive")
			}
			if err := os.WriteFile(archive, bytes.Replace(data, signed, forged, 1), 0o644); err != nil {
				t.Fatal(err)
			}
		},
	}
	for _, path := range []string{dir, archive} {
		t.Run(filepath.Base(path), func(t *testing.T) {
			src, err := openSource(ctx, path, nil)
			if err != nil {
				t.Fatal(err)
			}
			defer src.close()
			if _, err := verifyBundleSignature(ctx, src.file, trust); err != nil {
				t.Fatal(err)
			}
			change[path](t)
			defer func() {
				// Put the signed bytes back for the next form.
				if path == dir {
					os.WriteFile(filepath.Join(dir, layout.ManifestFile), signed, 0o644)
				}
			}()
			md, err := src.metadata(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(md.ManifestBytes, signed) || md.Manifest.MirrorGeneration != m.MirrorGeneration {
				t.Errorf("parsed manifest.json is not the one whose signature verified: generation %d, signed %d", md.Manifest.MirrorGeneration, m.MirrorGeneration)
			}
		})
	}
}
