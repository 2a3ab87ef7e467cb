package mirror_test

import (
	"context"
	"errors"
	"maps"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/opencontainers/go-digest"

	"github.com/stellaops/mirror/internal/sample"
	"github.com/stellaops/mirror/internal/testutil"
	"github.com/stellaops/mirror/pkg/errdef"
	"github.com/stellaops/mirror/pkg/mirror"
)

// TestCorruptBlobNamesTheMedia: a layer whose bytes on the media do not
// match its digest fails import and push naming the archive or directory
// it was read from, the side of the gap at fault, not the registry it was
// going to ("push blob … to HOST/REPO: upload …" sent operators to check
// the registry), with exit 2 and no tag written. A seekable .tar.zst or
// .tar.gz whose frame holding the layer fails its checksum is named so too,
// with the frame: the HTTP transport's "Put …: readfrom tcp …" around the
// frame's error said the upload had failed (found by review).
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
		"pack's .tar.zst, read at random": func(t *testing.T) string {
			return corruptContent(t, s.pack(t, ".tar.zst"), readBlob(t, s.dir, layer))
		},
		"pack's .tar.gz, read at random": func(t *testing.T) string {
			return corruptContent(t, s.pack(t, ".tar.gz"), readBlob(t, s.dir, layer))
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
				if codec, _, ok := strings.Cut(name, ", read at random"); ok && codec != "tar" {
					unit := map[string]string{"pack's .tar.zst": "zstd archive: the frame", "pack's .tar.gz": "gzip archive: the member"}[codec]
					want = src + ": its copy of blob sha256:" + layer + ": " + unit + " at archive byte "
				}
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

// readBlob returns the bytes of the blob of the bundle directory dir whose
// digest is sha256:encoded.
func readBlob(t *testing.T, dir, encoded string) []byte {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(dir, "blobs", "sha256", encoded))
	if err != nil {
		t.Fatal(err)
	}
	return data
}

// A pull of a bundle whose registry serves a layer's bytes altered fails
// naming the reference it pulls and the blob, once: it said "blob
// sha256:…: sha256:…: content hashes to …", the digest twice and the
// registry not at all (found by review). Exit 2, and no output.
func TestPullOfACorruptBlobNamesTheReference(t *testing.T) {
	t.Parallel()
	s := newSignedSample(t, sample.Spec{}, 0)
	layer := digest.NewDigestFromEncoded(digest.SHA256, filepath.Base(largestBlob(t, s.dir)))
	host := testutil.RegistryWrapped(t, func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.Method == http.MethodGet && strings.HasSuffix(r.URL.Path, "/blobs/"+layer.String()) {
				rec := httptest.NewRecorder()
				next.ServeHTTP(rec, r)
				body := rec.Body.Bytes()
				body[len(body)/2] ^= 0xff
				maps.Copy(w.Header(), rec.Header())
				w.WriteHeader(rec.Code)
				w.Write(body)
				return
			}
			next.ServeHTTP(w, r)
		})
	})
	ref := host + "/stellaops/mirror-bundle:" + s.rel.Spec.Version
	pushSampleTo(t, s, ref)
	out := filepath.Join(t.TempDir(), "pulled")
	_, err := mirror.Pull(context.Background(), mirror.PullOptions{Reference: ref, Output: out, Trust: trustKeys(s.pub),
		Client: testutil.Client(t), Transfer: transferOpts()})
	want := ref + ": blob " + layer.String() + ": content hashes to sha256:"
	if !errors.Is(err, errdef.ErrDigestMismatch) || !strings.HasPrefix(err.Error(), want) || strings.Count(err.Error(), layer.String()) != 1 {
		t.Fatalf("pull of a corrupt layer: %v\nwant a digest mismatch starting %q, the digest once", err, want)
	}
	if _, err := os.Stat(out); !os.IsNotExist(err) {
		t.Errorf("failed pull left %s (stat: %v)", out, err)
	}
}
