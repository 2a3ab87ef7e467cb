package mirror_test

import (
	"archive/tar"
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/klauspost/compress/gzip"
	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	"oras.land/oras-go/v2/registry"
	"oras.land/oras-go/v2/registry/remote"

	"github.com/stellaops/mirror/internal/sample"
	"github.com/stellaops/mirror/internal/testutil"
	"github.com/stellaops/mirror/pkg/bundle"
	"github.com/stellaops/mirror/pkg/errdef"
	"github.com/stellaops/mirror/pkg/mirror"
	"github.com/stellaops/mirror/pkg/transfer"
)

// signedSample creates and signs a bundle of the sample release from an
// in-process source registry.
type signedSample struct {
	source string
	rel    *sample.Release
	dir    string
	pub    string
	priv   string
}

func newSignedSample(t testing.TB, spec sample.Spec, generation int64) *signedSample {
	t.Helper()
	s := &signedSample{source: testutil.Registry(t)}
	var releaseFile, advisories string
	s.rel, releaseFile, advisories = testutil.PushSample(t, s.source, spec)
	s.dir = filepath.Join(t.TempDir(), "bundle")
	opts := createOpts(t, releaseFile, advisories, s.dir)
	opts.Generation = generation
	if _, err := mirror.Create(context.Background(), opts); err != nil {
		t.Fatal(err)
	}
	s.priv, s.pub = testKeys(t, "signer")
	sign(t, s.dir, s.priv)
	return s
}

func (s *signedSample) pack(t testing.TB, suffix string) string {
	t.Helper()
	out := filepath.Join(t.TempDir(), "bundle"+suffix)
	if _, err := mirror.Pack(context.Background(), mirror.PackOptions{Dir: s.dir, Output: out}); err != nil {
		t.Fatal(err)
	}
	return out
}

// blobFiles lists the files of the bundle directory's blobs/sha256.
func (s *signedSample) blobFiles(t testing.TB) []os.DirEntry {
	t.Helper()
	blobs, err := os.ReadDir(filepath.Join(s.dir, "blobs", "sha256"))
	if err != nil || len(blobs) == 0 {
		t.Fatal(blobs, err)
	}
	return blobs
}

// foreign packs the bundle as another tool would compress its tar (suffix
// .tar.gz or .tar.zst, no seek table): an archive import reads as a stream.
func (s *signedSample) foreign(t testing.TB, suffix string) string {
	t.Helper()
	return testutil.ForeignArchive(t, s.pack(t, ".tar"), "bundle"+suffix)
}

func importOpts(t *testing.T, src, target, pub string) mirror.ImportOptions {
	return mirror.ImportOptions{
		Source: src, Registry: target, Trust: trustKeys(pub),
		Now: testNow, Client: testutil.Client(t),
		Transfer: transferOpts(),
	}
}

// assertImported checks that every image of the release is in the target
// under its mapped name, by digest and by tag, byte for byte as in the
// source; that the bundle root is tagged in the bundle repository with its
// signature discoverable; and returns the root's referrers there.
func assertImported(t *testing.T, s *signedSample, target string, res *mirror.PlaceResult) {
	t.Helper()
	ctx := context.Background()
	client := testutil.Client(t)
	for _, img := range s.rel.Images {
		src, _ := client.Repository(s.source + "/" + img.Repository)
		dst, _ := client.Repository(target + "/" + img.Repository)
		for dg, size := range img.Blobs {
			want, err := readContent(ctx, src, dg, size)
			if err != nil {
				t.Fatal(err)
			}
			got, err := readContent(ctx, dst, dg, size)
			if err != nil || !bytes.Equal(got, want) {
				t.Errorf("%s: %s differs in the target (%v)", img.Repository, dg, err)
			}
		}
		d, err := dst.Resolve(ctx, s.rel.Spec.Version)
		if err != nil || d.Digest != img.Descriptor.Digest {
			t.Errorf("%s:%s resolves to %s (%v), want %s", img.Repository, s.rel.Spec.Version, d.Digest, err, img.Descriptor.Digest)
		}
	}
	b, _ := client.Repository(target + "/" + bundle.DefaultBundleRepository)
	root, err := b.Resolve(ctx, s.rel.Spec.Version)
	if err != nil || root.Digest != res.Root {
		t.Fatalf("bundle root %s (%v), want %s", root.Digest, err, res.Root)
	}
	// All referrers, filtered here: the in-process registry reports a
	// referrer's artifactType from its config media type only.
	refs, err := registry.Referrers(ctx, b, root, "")
	if err != nil {
		t.Fatalf("referrers of the root: %v", err)
	}
	kinds := map[string]int{}
	for _, r := range refs {
		data, err := readContent(ctx, b, r.Digest, r.Size)
		var man ocispec.Manifest
		if err != nil || json.Unmarshal(data, &man) != nil || man.Subject == nil || man.Subject.Digest != res.Root {
			t.Errorf("root referrer %s: %s (%v)", r.Digest, data, err)
		}
		kinds[man.ArtifactType]++
	}
	if kinds[bundle.ArtifactTypeDSSE] != 1 || kinds[bundle.ArtifactTypeFiles] != 1 || len(refs) != 2 {
		t.Errorf("root referrers %v: want the signature and the files referrer", kinds)
	}
}

func TestImportRoundTrip(t *testing.T) {
	t.Parallel()
	s := newSignedSample(t, sample.Spec{}, 0)
	m := readManifest(t, s.dir)
	tests := []struct {
		name   string
		target func(t testing.TB) string
		suffix string
		mode   mirror.ReferrersMode
	}{
		{"dir into referrers-API registry", testutil.Registry, "", mirror.ReferrersAPI},
		{"tar.zst into referrers-API registry", testutil.Registry, ".tar.zst", mirror.ReferrersAPI},
		{"tar into distribution", testutil.Distribution, ".tar", mirror.ReferrersTagIndex},
		{"tar.gz into distribution", testutil.Distribution, ".tar.gz", mirror.ReferrersTagIndex},
		{"another tool's tar.gz (a stream) into distribution", testutil.Distribution, "foreign.tar.gz", mirror.ReferrersTagIndex},
		{"another tool's tar.zst (a stream) into referrers-API registry", testutil.Registry, "foreign.tar.zst", mirror.ReferrersAPI},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			target := tt.target(t)
			src := s.dir
			if suffix, ok := strings.CutPrefix(tt.suffix, "foreign"); ok {
				src = s.foreign(t, suffix)
			} else if tt.suffix != "" {
				src = s.pack(t, tt.suffix)
			}
			opts := importOpts(t, src, target, s.pub)
			opts.AdvisoriesDir = filepath.Join(t.TempDir(), "advisories")
			res, err := mirror.Import(context.Background(), opts)
			if err != nil {
				t.Fatal(err)
			}
			assertImported(t, s, target, res)
			if res.ReferrersMode != tt.mode {
				t.Errorf("referrers mode %q, want %q", res.ReferrersMode, tt.mode)
			}
			// Shared blobs go once; distribution mounts them into the other
			// repositories (the in-process registry cannot mount).
			if res.Blobs.Sent == 0 || (tt.mode == mirror.ReferrersTagIndex && res.Blobs.Mounted == 0) {
				t.Errorf("blobs %+v: want some sent and some mounted", res.Blobs)
			}
			for _, a := range m.Advisories {
				data, err := os.ReadFile(filepath.Join(opts.AdvisoriesDir, strings.TrimPrefix(a.Path, "advisories/")))
				if err != nil || digest.FromBytes(data) != a.Digest {
					t.Errorf("advisory %s: %v", a.Path, err)
				}
			}
			// Again: nothing is sent, the state is the same.
			before := testutil.Tags(t, target)
			again, err := mirror.Import(context.Background(), opts)
			if err != nil {
				t.Fatal(err)
			}
			if again.Blobs.Sent != 0 || again.Manifests.Pushed != 0 {
				t.Errorf("second import sent %+v, pushed %+v", again.Blobs, again.Manifests)
			}
			if after := testutil.Tags(t, target); !reflect.DeepEqual(before, after) {
				t.Errorf("second import changed tags: %v -> %v", before, after)
			}
		})
	}
}

// readContent reads a blob, or a manifest if it is not a blob, by digest.
func readContent(ctx context.Context, repo *remote.Repository, dg digest.Digest, size int64) ([]byte, error) {
	if data, err := sample.Read(ctx, repo.Blobs(), ocispec.Descriptor{Digest: dg, Size: size}); err == nil {
		return data, nil
	}
	_, rc, err := repo.Manifests().FetchReference(ctx, dg.String())
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	return io.ReadAll(rc)
}

// TestImportRefuses checks each kind of bad bundle: the documented error,
// and the target's repositories and tags exactly as before.
func TestImportRefuses(t *testing.T) {
	t.Parallel()
	s := newSignedSample(t, sample.Spec{}, 0)
	target := testutil.Distribution(t)
	// A newer bundle already there, to test generations against.
	newer := newSignedSample(t, sample.Spec{Variant: 7}, fixedTime.Unix()+1)
	// Signed with s's key too: only bundles that verify under the
	// import's trust count as held.
	sign(t, newer.dir, s.priv)
	_, err := mirror.Import(context.Background(), importOpts(t, newer.dir, target, newer.pub))
	if err != nil {
		t.Fatal(err)
	}
	m := readManifest(t, s.dir)
	// A layer of authority, which the newer bundle does not share (the
	// registry would rightly skip a blob it already holds).
	layer := ""
	for dg, size := range s.rel.Images[0].Blobs {
		if size > 64<<10 && size < 128<<10 {
			layer = dg.Encoded()
		}
	}
	layerBytes, err := os.ReadFile(filepath.Join(s.dir, "blobs", "sha256", layer))
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name    string
		prepare func(t *testing.T) (src string, opts func(*mirror.ImportOptions))
		wantErr error
		wantMsg string
	}{
		{"tampered layer", func(t *testing.T) (string, func(*mirror.ImportOptions)) {
			dir := copyBundle(t, s.dir)
			flipByte(t, filepath.Join(dir, "blobs", "sha256", layer), 1000)
			return dir, nil
		}, errdef.ErrDigestMismatch, layer},
		{"tampered manifest in a tar", func(t *testing.T) (string, func(*mirror.ImportOptions)) {
			tarPath := s.pack(t, ".tar")
			tamperTar(t, tarPath, "blobs/sha256/"+s.rel.Images[0].Descriptor.Digest.Encoded(), 20)
			return tarPath, nil
		}, errdef.ErrDigestMismatch, s.rel.Images[0].Descriptor.Digest.Encoded()},
		{"tampered layer in a tar", func(t *testing.T) (string, func(*mirror.ImportOptions)) {
			tarPath := s.pack(t, ".tar")
			tamperTar(t, tarPath, "blobs/sha256/"+layer, 5000)
			return tarPath, nil
		}, errdef.ErrDigestMismatch, layer},
		{"tampered manifest.json", func(t *testing.T) (string, func(*mirror.ImportOptions)) {
			dir := copyBundle(t, s.dir)
			flipByte(t, filepath.Join(dir, "manifest.json"), 40)
			return dir, nil
		}, errdef.ErrSignature, "manifest.dsse does not sign this manifest.json"},
		{"wrong key", func(t *testing.T) (string, func(*mirror.ImportOptions)) {
			_, other := testKeys(t, "other")
			return s.pack(t, ".tar.zst"), func(o *mirror.ImportOptions) { o.Trust = trustKeys(other) }
		}, errdef.ErrSignature, "manifest.dsse: 0 of 1 signatures verified with a trusted key (signed by untrusted key"},
		{"corrupt frame in a .tar.zst", func(t *testing.T) (string, func(*mirror.ImportOptions)) {
			return corruptContent(t, s.pack(t, ".tar.zst"), layerBytes), nil
		}, errdef.ErrDigestMismatch, "zstd archive: the frame at archive byte"},
		{"corrupt member in a .tar.gz", func(t *testing.T) (string, func(*mirror.ImportOptions)) {
			return corruptContent(t, s.pack(t, ".tar.gz"), layerBytes), nil
		}, errdef.ErrDigestMismatch, "gzip archive: the member at archive byte"},
		{"truncated archive", func(t *testing.T) (string, func(*mirror.ImportOptions)) {
			tarPath := s.pack(t, ".tar")
			data, _ := os.ReadFile(tarPath)
			os.WriteFile(tarPath, data[:len(data)*2/3], 0o644)
			return tarPath, nil
		}, errdef.ErrMalformed, "truncated"},
		{"expired", func(t *testing.T) (string, func(*mirror.ImportOptions)) {
			return s.dir, func(o *mirror.ImportOptions) { o.Now = m.ExpiresAt.Add(time.Second) }
		}, errdef.ErrExpired, m.BundleID},
		{"older generation", func(t *testing.T) (string, func(*mirror.ImportOptions)) {
			return s.dir, nil
		}, errdef.ErrGeneration, fmt.Sprintf("already holds generation %d, of release %s (", fixedTime.Unix()+1, newer.rel.Spec.Version)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := testutil.Tags(t, target)
			src, change := tt.prepare(t)
			opts := importOpts(t, src, target, s.pub)
			if tt.name != "older generation" {
				opts.AllowRollback = true
			}
			if change != nil {
				change(&opts)
			}
			_, err := mirror.Import(context.Background(), opts)
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("err = %v, want %v", err, tt.wantErr)
			}
			if !strings.Contains(err.Error(), tt.wantMsg) || strings.Contains(err.Error(), "\n") {
				t.Errorf("error %q does not name %q on one line", err, tt.wantMsg)
			}
			if after := testutil.Tags(t, target); !reflect.DeepEqual(before, after) {
				t.Errorf("tags changed: %v -> %v", before, after)
			}
		})
	}
}

// TestImportSeekableWithBrokenTable: a .tar.zst or .tar.gz whose seek
// table is damaged (it is not signed; the frames are) is imported as one
// stream, verified as any stream is, to the same registry state.
func TestImportSeekableWithBrokenTable(t *testing.T) {
	t.Parallel()
	s := newSignedSample(t, sample.Spec{}, 0)
	// Each damage adds one to the frame count the footer gives.
	for suffix, countAt := range map[string]int{".tar.zst": 9, ".tar.gz": 10 + 8} {
		t.Run(suffix, func(t *testing.T) {
			archive := s.pack(t, suffix)
			data, _ := os.ReadFile(archive)
			at := len(data) - countAt
			binary.LittleEndian.PutUint32(data[at:], binary.LittleEndian.Uint32(data[at:])+1)
			os.WriteFile(archive, data, 0o644)
			target := testutil.Distribution(t)
			res, err := mirror.Import(context.Background(), importOpts(t, archive, target, s.pub))
			if err != nil {
				t.Fatal(err)
			}
			assertImported(t, s, target, res)
		})
	}
}

// tamperTar flips the byte at offset within the content of the named entry
// of an uncompressed tar.
func tamperTar(t *testing.T, tarPath, name string, offset int64) {
	t.Helper()
	f, err := os.OpenFile(tarPath, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	cr := &countReader{r: f}
	tr := tar.NewReader(cr)
	for {
		hdr, err := tr.Next()
		if err != nil {
			t.Fatalf("entry %s not found: %v", name, err)
		}
		if hdr.Name == name {
			at := cr.n + offset
			b := make([]byte, 1)
			f.ReadAt(b, at)
			b[0] ^= 0xff
			f.WriteAt(b, at)
			return
		}
	}
}

type countReader struct {
	r io.Reader
	n int64
}

func (c *countReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	return n, err
}

func transferOpts() transfer.Options { return transfer.Options{Backoff: time.Millisecond} }

// TestImportForeignOrderTar imports an OCI layout tar written in plain name
// order (blobs before index.json and manifest.json), as `tar -cf` of the
// directory would: it takes two reads of the archive, compressed or not.
func TestImportForeignOrderTar(t *testing.T) {
	s := newSignedSample(t, sample.Spec{}, 0)
	for _, compress := range []bool{false, true} {
		archive := filepath.Join(t.TempDir(), "foreign.tar")
		writeSortedTar(t, s.dir, archive, compress)
		target := testutil.Registry(t)
		res, err := mirror.Import(context.Background(), importOpts(t, archive, target, s.pub))
		if err != nil {
			t.Fatalf("compress=%v: %v", compress, err)
		}
		assertImported(t, s, target, res)
	}
}

// writeSortedTar writes dir as a tar with entries in name order.
func writeSortedTar(t *testing.T, dir, out string, compress bool) {
	t.Helper()
	f, err := os.Create(out)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var w io.Writer = f
	var zw *gzip.Writer
	if compress {
		zw = gzip.NewWriter(f)
		w = zw
	}
	tw := tar.NewWriter(w)
	filepath.WalkDir(dir, func(p string, e fs.DirEntry, err error) error {
		if err != nil || e.IsDir() {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		data, _ := os.ReadFile(p)
		tw.WriteHeader(&tar.Header{Name: rel, Size: int64(len(data)), Mode: 0o644, Typeflag: tar.TypeReg})
		tw.Write(data)
		return nil
	})
	tw.Close()
	if zw != nil {
		zw.Close()
	}
}

// TestImportThroughFaults imports through a proxy that fails one request in
// five (503, reset, truncated answer, 429 with Retry-After, stall, hang, upload cut) into
// distribution (faults_test.go has the others), from a stream (resumed
// from the chunks in memory) and from pack's seekable archive (re-read).
func TestImportThroughFaults(t *testing.T) {
	t.Parallel()
	s := newSignedSample(t, sample.Spec{BaseLayerSize: 3 << 20, LayerSize: 1 << 20}, 0)
	for name, src := range map[string]string{"stream": s.foreign(t, ".tar.zst"), "seekable": s.pack(t, ".tar.zst")} {
		t.Run(name, func(t *testing.T) {
			target := testutil.Distribution(t)
			proxy := faultyProxy(t, target)
			opts := importOpts(t, src, proxy.Host, s.pub)
			opts.Client, opts.Transfer = faultyClient(t)
			res, err := mirror.Import(context.Background(), opts)
			if err != nil {
				t.Fatalf("import through faults (%d injected of %d): %v", proxy.Injected.Load(), proxy.Requests.Load(), err)
			}
			assertImported(t, s, target, res)
			checkFaults(t, proxy)
		})
	}
	target := testutil.Distribution(t)
	proxy := faultyProxy(t, target)

	// A registry that stays down: a clear error, within bounded retries.
	down := importOpts(t, s.dir, proxy.Host, s.pub)
	down.Client, down.Transfer = downClient(t)
	givesUp(t, proxy, "import", func() error { _, err := mirror.Import(context.Background(), down); return err })
}

// The side files (public-key.pem, SHA256SUMS and its signature) are no
// part of what the envelope signs. A public-key.pem replaced on the medium
// used to be copied into the target as the files referrer, which every
// reader after passes over: import leaves such files behind, with a
// warning, and still places the bundle, which verified.
func TestImportLeavesUnverifiableSideFiles(t *testing.T) {
	ctx := context.Background()
	s := newSignedSample(t, sample.Spec{}, 0)
	_, otherPub := testKeys(t, "substitute")
	pem, err := os.ReadFile(otherPub)
	if err != nil {
		t.Fatal(err)
	}
	writeFile(t, filepath.Join(s.dir, "public-key.pem"), string(pem))
	dst := testutil.Registry(t)
	var logs bytes.Buffer
	opts := importOpts(t, s.dir, dst, s.pub)
	opts.Logger = slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelWarn}))
	res, err := mirror.Import(ctx, opts)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(logs.String(), "bundle files not carried") {
		t.Errorf("import logged %q, want a warning that the side files stay behind", logs.String())
	}
	assertFilesNotCarried(t, res, "public-key.pem is not the one SHA256SUMS lists")
	b, _ := testutil.Client(t).Repository(dst + "/" + bundle.DefaultBundleRepository)
	refs, err := registry.Referrers(ctx, b, ocispec.Descriptor{MediaType: ocispec.MediaTypeImageIndex, Digest: res.Root}, "")
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range refs {
		data, err := readContent(ctx, b, r.Digest, r.Size)
		var man ocispec.Manifest
		if err != nil || json.Unmarshal(data, &man) != nil {
			t.Fatalf("referrer %s: %v", r.Digest, err)
		}
		if man.ArtifactType == bundle.ArtifactTypeFiles {
			t.Errorf("the substituted side files were carried as referrer %s", r.Digest)
		}
	}
	if len(refs) != 1 {
		t.Errorf("root has %d referrers, want the signature alone", len(refs))
	}
}
