package mirror

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"testing"

	"github.com/stellaops/mirror/pkg/bundle"
	"github.com/stellaops/mirror/pkg/errdef"
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
			if mb, _ := md.manifestBytes(); !bytes.Equal(mb, signed) || md.Manifest.MirrorGeneration != m.MirrorGeneration {
				t.Errorf("parsed manifest.json is not the one whose signature verified: generation %d, signed %d", md.Manifest.MirrorGeneration, m.MirrorGeneration)
			}
		})
	}
}

// TestLargeHeadFileReadAgain: a head file over keptHeadFileSize is held
// as its digest, not its bytes (they grow with the images: SHA256SUMS,
// manifest.json and its envelope, index.json, 11 MB at 3000 images, held
// through a whole import), and read again when asked for again: the same
// bytes are given, other bytes refused as a mismatch (exit 2), so nothing
// but the first read's bytes is ever parsed. A small file is kept as read.
func TestLargeHeadFileReadAgain(t *testing.T) {
	large := bytes.Repeat([]byte("a"), keptHeadFileSize+1)
	small := []byte("small")
	reads := map[string]int{}
	medium := map[string][]byte{"large": large, "small": small}
	file := headFileOf(func(name string) ([]byte, error) {
		reads[name]++
		return append([]byte{}, medium[name]...), nil
	})
	for _, name := range []string{"large", "small"} {
		if got, err := file(name); err != nil || !bytes.Equal(got, medium[name]) {
			t.Fatalf("%s: %v", name, err)
		}
	}
	if got, err := file("large"); err != nil || !bytes.Equal(got, large) || reads["large"] != 2 {
		t.Fatalf("large read again: %v, %d reads", err, reads["large"])
	}
	medium["large"] = bytes.Repeat([]byte("b"), keptHeadFileSize+1)
	medium["small"] = []byte("other")
	if _, err := file("large"); !errors.Is(err, errdef.ErrDigestMismatch) {
		t.Errorf("large file changed on the medium: err = %v, want a digest mismatch", err)
	}
	if got, err := file("small"); err != nil || !bytes.Equal(got, small) || reads["small"] != 1 {
		t.Errorf("small file: %q, %v, %d reads; want the first read's bytes, read once", got, err, reads["small"])
	}
}
