package mirror_test

import (
	"context"
	"errors"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stellaops/mirror/internal/sample"
	"github.com/stellaops/mirror/internal/testutil"
	"github.com/stellaops/mirror/pkg/errdef"
	"github.com/stellaops/mirror/pkg/mirror"
)

// TestCorruptBlobNamesTheMedia: a layer whose bytes on the media do not
// match its digest fails import and push naming the archive or directory
// it was read from, the side of the gap at fault, not the registry it was
// going to ("push blob … to HOST/REPO: upload …" sent operators to check
// the registry), with exit 2 and no tag written.
func TestCorruptBlobNamesTheMedia(t *testing.T) {
	t.Parallel()
	s := newSignedSample(t, sample.Spec{}, 0)
	layer := ""
	for dg, size := range s.rel.Images[0].Blobs {
		if size > 64<<10 && size < 128<<10 {
			layer = dg.Encoded()
		}
	}
	if layer == "" {
		t.Fatal("no layer of the size wanted")
	}
	sources := map[string]func(t *testing.T) string{
		"directory": func(t *testing.T) string {
			dir := copyBundle(t, s.dir)
			flipByte(t, filepath.Join(dir, "blobs", "sha256", layer), 1000)
			return dir
		},
		"tar, read at random": func(t *testing.T) string {
			tarPath := s.pack(t, ".tar")
			tamperTar(t, tarPath, "blobs/sha256/"+layer, 5000)
			return tarPath
		},
		"another tool's .tar.gz, read as a stream": func(t *testing.T) string {
			tarPath := s.pack(t, ".tar")
			tamperTar(t, tarPath, "blobs/sha256/"+layer, 5000)
			return testutil.ForeignArchive(t, tarPath, "bundle.tar.gz")
		},
	}
	for name, prepare := range sources {
		t.Run(name, func(t *testing.T) {
			src := prepare(t)
			target := testutil.Distribution(t)
			check := func(what string, err error) {
				t.Helper()
				if !errors.Is(err, errdef.ErrDigestMismatch) {
					t.Fatalf("%s: err = %v, want a digest mismatch", what, err)
				}
				want := src + ": its copy of blob sha256:" + layer + " is damaged or altered: content hashes to sha256:"
				if msg := err.Error(); !strings.HasPrefix(msg, want) || strings.Contains(msg, "push blob") || strings.Contains(msg, "\n") {
					t.Errorf("%s: error %q\ndoes not start with %q on one line", what, msg, want)
				}
				if tags := testutil.Tags(t, target); len(tags) != 0 {
					t.Errorf("%s: tags written: %v", what, tags)
				}
			}
			_, err := mirror.Import(context.Background(), importOpts(t, src, target, s.pub))
			check("import", err)
			_, err = mirror.Push(context.Background(), mirror.PushOptions{Now: testNow, Source: src, Reference: target + "/stellaops/mirror-bundle",
				Trust: trustKeys(s.pub), Client: testutil.Client(t), Transfer: transferOpts()})
			check("push", err)
		})
	}
}
