package mirror_test

import (
	"archive/tar"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io/fs"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/klauspost/compress/gzip"
	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/stellaops/mirror/internal/sample"
	"github.com/stellaops/mirror/internal/testutil"
	"github.com/stellaops/mirror/pkg/errdef"
	"github.com/stellaops/mirror/pkg/layout"
	"github.com/stellaops/mirror/pkg/mirror"
)

// Regression tests for what the tamper corpus (internal/e2e) found, at the
// level of the library.

// writeEntries writes a plain tar of regular files.
func writeEntries(t *testing.T, entries map[string]string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "hostile.tar")
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	tw := tar.NewWriter(f)
	for name, body := range entries {
		tw.WriteHeader(&tar.Header{Name: name, Size: int64(len(body)), Mode: 0o644, Typeflag: tar.TypeReg})
		tw.Write([]byte(body))
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	return path
}

// An archive without index.json whose first entry is not a head file sent
// the reader into its out-of-order scan, which then indexed an empty list
// of missing manifests: a panic.
func TestArchiveWithoutIndex(t *testing.T) {
	plain := writeEntries(t, map[string]string{layout.BlobName(digest.FromString("x")): "x"})
	data, _ := os.ReadFile(plain)
	var gz bytes.Buffer
	zw := gzip.NewWriter(&gz)
	zw.Write(data)
	zw.Close()
	streamed := plain + ".gz" // read as a stream, as the panic was
	os.WriteFile(streamed, gz.Bytes(), 0o644)
	for _, path := range []string{plain, streamed} {
		_, err := mirror.Inspect(context.Background(), path, time.Now())
		if !errors.Is(err, errdef.ErrMalformed) || !strings.Contains(err.Error(), "index.json") {
			t.Errorf("%s: err = %v, want ErrMalformed naming index.json", filepath.Base(path), err)
		}
	}
}

// editIndex rewrites the index.json of a copy of dir.
func editIndex(t *testing.T, dir string, edit func(idx *ocispec.Index)) string {
	t.Helper()
	out := copyBundle(t, dir)
	data, err := os.ReadFile(filepath.Join(out, layout.IndexFile))
	if err != nil {
		t.Fatal(err)
	}
	var idx ocispec.Index
	if err := json.Unmarshal(data, &idx); err != nil {
		t.Fatal(err)
	}
	edit(&idx)
	if data, err = json.Marshal(idx); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(out, layout.IndexFile), data, 0o644); err != nil {
		t.Fatal(err)
	}
	return out
}

// index.json is not signed, but any OCI tool reads a bundle through it:
// import, serve and push (like verify) refuse one that does not list
// exactly what manifest.json names. They used to ignore it.
func TestIndexMustAgreeWithManifest(t *testing.T) {
	s := newSignedSample(t, sample.Spec{}, 0)
	m := readManifest(t, s.dir)
	victim := m.Images[1]
	extra := editIndex(t, s.dir, func(idx *ocispec.Index) {
		d := ocispec.Descriptor{MediaType: victim.MediaType, Digest: victim.Digest, Size: victim.Size,
			Annotations: map[string]string{ocispec.AnnotationRefName: "evil/backdoor:" + m.Release.Version}}
		idx.Manifests = append(idx.Manifests, d)
	})
	lacking := editIndex(t, s.dir, func(idx *ocispec.Index) {
		var kept []ocispec.Descriptor
		for _, d := range idx.Manifests {
			if d.Digest != victim.Digest {
				kept = append(kept, d)
			}
		}
		idx.Manifests = kept
	})
	target := testutil.Registry(t)
	for name, dir := range map[string]string{"extra": extra, "lacking": lacking} {
		for _, src := range []string{dir, packDir(t, dir)} {
			t.Run(name+" "+filepath.Base(src), func(t *testing.T) {
				_, err := mirror.Import(context.Background(), importOpts(t, src, target, s.pub))
				wantIndexError(t, "import", err, victim.Digest)
				_, err = mirror.OpenServed(context.Background(), mirror.ServeOptions{Path: src, Trust: trustKeys(s.pub), Now: fixedTime.Add(time.Hour)})
				wantIndexError(t, "serve", err, victim.Digest)
				_, err = mirror.Push(context.Background(), mirror.PushOptions{Now: testNow, Source: src, Reference: target + "/pushed", Client: testutil.Client(t)})
				wantIndexError(t, "push", err, victim.Digest)
			})
		}
	}
	if tags := testutil.Tags(t, target); len(tags) != 0 {
		t.Errorf("the registry changed: %v", tags)
	}
}

func wantIndexError(t *testing.T, op string, err error, culprit digest.Digest) {
	t.Helper()
	if !errors.Is(err, errdef.ErrMalformed) || !strings.Contains(err.Error(), "index.json") || !strings.Contains(err.Error(), culprit.String()) {
		t.Errorf("%s: err = %v, want ErrMalformed naming index.json and %s", op, err, culprit)
	}
}

// packDir writes dir as a plain tar without checking it (pack refuses a
// bundle that does not verify): index.json first, then every other file.
func packDir(t *testing.T, dir string) string {
	t.Helper()
	out := filepath.Join(t.TempDir(), "bundle.tar")
	f, err := os.Create(out)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	tw := tar.NewWriter(f)
	add := func(rel string) {
		data, err := os.ReadFile(filepath.Join(dir, rel))
		if err != nil {
			t.Fatal(err)
		}
		tw.WriteHeader(&tar.Header{Name: filepath.ToSlash(rel), Size: int64(len(data)), Mode: 0o644, Typeflag: tar.TypeReg})
		tw.Write(data)
	}
	add(layout.IndexFile)
	filepath.WalkDir(dir, func(p string, e fs.DirEntry, err error) error {
		if err != nil || e.IsDir() {
			return err
		}
		if rel, _ := filepath.Rel(dir, p); rel != layout.IndexFile {
			add(rel)
		}
		return nil
	})
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	return out
}

// A blob that manifest.json names and the bundle lacks is a mismatch
// (exit 2) for import too, from a directory or an archive, as verify and
// serve report it. Import used to say "not found" (1) for a directory and
// "malformed" (11) for an archive.
func TestMissingBlobIsAMismatch(t *testing.T) {
	s := newSignedSample(t, sample.Spec{}, 0)
	layer := ""
	for dg, size := range s.rel.Images[0].Blobs {
		if size > 64<<10 && size < 128<<10 {
			layer = dg.Encoded()
		}
	}
	dir := copyBundle(t, s.dir)
	if err := os.Remove(filepath.Join(dir, "blobs", "sha256", layer)); err != nil {
		t.Fatal(err)
	}
	for _, src := range []string{dir, packDir(t, dir)} {
		_, err := mirror.Import(context.Background(), importOpts(t, src, testutil.Registry(t), s.pub))
		if !errors.Is(err, errdef.ErrDigestMismatch) || !strings.Contains(err.Error(), layer) {
			t.Errorf("%s: err = %v, want ErrDigestMismatch naming %s", filepath.Base(src), err, layer)
		}
	}
}

// A failed import writes no advisory: they used to be moved into place as
// soon as each verified, so an import that failed later (here: the
// registry refuses every manifest, after every blob went up) left the
// advisories of a bundle it did not import where their consumers read.
func TestFailedImportWritesNoAdvisory(t *testing.T) {
	s := newSignedSample(t, sample.Spec{}, 0)
	target := testutil.RegistryWrapped(t, func(h http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.Method == http.MethodPut && strings.Contains(r.URL.Path, "/manifests/") {
				http.Error(w, "no", http.StatusForbidden)
				return
			}
			h.ServeHTTP(w, r)
		})
	})
	for _, src := range []string{s.dir, s.pack(t, ".tar")} {
		opts := importOpts(t, src, target, s.pub)
		opts.AdvisoriesDir = filepath.Join(t.TempDir(), "advisories")
		if _, err := mirror.Import(context.Background(), opts); err == nil {
			t.Fatalf("%s: imported", filepath.Base(src))
		}
		left, _ := os.ReadDir(opts.AdvisoriesDir)
		for _, e := range left {
			t.Errorf("%s: a failed import left %s", filepath.Base(src), e.Name())
		}
	}
}
