package mirror_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/crane"
	"github.com/google/go-containerregistry/pkg/name"
	ggcrremote "github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/validate"
	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	"oras.land/oras-go/v2"
	"oras.land/oras-go/v2/content"
	"oras.land/oras-go/v2/content/oci"
	oremote "oras.land/oras-go/v2/registry/remote"

	"github.com/stellaops/mirror/internal/sample"
	"github.com/stellaops/mirror/internal/testutil"
	"github.com/stellaops/mirror/pkg/bundle"
	"github.com/stellaops/mirror/pkg/errdef"
	"github.com/stellaops/mirror/pkg/layout"
	"github.com/stellaops/mirror/pkg/mirror"
	"github.com/stellaops/mirror/pkg/serve"
)

// servedSample is a signed sample bundle, as a directory and a plain tar.
type servedSample struct {
	*signedSample
	tar string
}

func newServedSample(t testing.TB, spec sample.Spec) *servedSample {
	t.Helper()
	s := newSignedSample(t, spec, 0)
	return &servedSample{signedSample: s, tar: s.pack(t, ".tar")}
}

// serveOpts are the options that serve s's bundle at path as its signer's
// key trusts it, at a time it has not expired.
func (s *servedSample) serveOpts(path string) mirror.ServeOptions {
	return mirror.ServeOptions{Path: path, Trust: trustKeys(s.pub), Now: fixedTime.Add(time.Hour)}
}

// serveBundle verifies the bundle at path and serves it on a loopback
// httptest server; it returns the server's host:port.
func serveBundle(t *testing.T, s *servedSample, path string, mod func(*mirror.ServeOptions)) (string, *mirror.ServedBundle) {
	t.Helper()
	opts := s.serveOpts(path)
	if mod != nil {
		mod(&opts)
	}
	b, err := mirror.OpenServed(context.Background(), opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { b.Close() })
	srv := httptest.NewServer(serve.NewHandler(b.Content, serve.Options{}))
	t.Cleanup(srv.Close)
	return strings.TrimPrefix(srv.URL, "http://"), b
}

func orasRepo(t *testing.T, host, repo string) *oremote.Repository {
	t.Helper()
	r, err := oremote.NewRepository(host + "/" + repo)
	if err != nil {
		t.Fatal(err)
	}
	r.PlainHTTP = true
	return r
}

// TestServePullsMatchSource pulls every image of a served bundle, from the
// directory and from the tar, with oras-go and go-containerregistry, and
// compares every manifest and blob with the source registry byte for byte.
func TestServePullsMatchSource(t *testing.T) {
	f := newServedSample(t, sample.Spec{})
	// The plain tar split into volumes, served with no reassembly.
	split := filepath.Join(t.TempDir(), "bundle.tar")
	packed, err := mirror.Pack(context.Background(), mirror.PackOptions{Dir: f.dir, Output: split, Split: 300 << 10})
	if err != nil || len(packed.Volumes) < 2 {
		t.Fatalf("pack --split: %v %+v", err, packed)
	}
	// pack's .tar.zst and .tar.gz are seekable, whole or split: served by
	// decompressing at random.
	zst := filepath.Join(t.TempDir(), "bundle.tar.zst")
	gz := filepath.Join(t.TempDir(), "bundle.tar.gz")
	for _, out := range []string{zst, gz} {
		if _, err := mirror.Pack(context.Background(), mirror.PackOptions{Dir: f.dir, Output: out}); err != nil {
			t.Fatal(err)
		}
	}
	zstSplit, err := mirror.Pack(context.Background(), mirror.PackOptions{Dir: f.dir, Output: filepath.Join(t.TempDir(), "bundle.tar.zst"), Split: 300 << 10})
	if err != nil || len(zstSplit.Volumes) < 2 {
		t.Fatalf("pack --split .tar.zst: %v %+v", err, zstSplit)
	}
	gzSplit, err := mirror.Pack(context.Background(), mirror.PackOptions{Dir: f.dir, Output: filepath.Join(t.TempDir(), "bundle.tar.gz"), Split: 300 << 10})
	if err != nil || len(gzSplit.Volumes) < 2 {
		t.Fatalf("pack --split .tar.gz: %v %+v", err, gzSplit)
	}
	for _, src := range []struct{ name, path string }{
		{"dir", f.dir}, {"tar", f.tar}, {"volumes", packed.VolumeList}, {"tar.zst", zst}, {"tar.gz", gz},
		{"tar.zst volumes", zstSplit.VolumeList}, {"tar.gz volumes", gzSplit.VolumeList},
	} {
		t.Run(src.name, func(t *testing.T) {
			ctx := context.Background()
			host, b := serveBundle(t, f, src.path, nil)
			version := f.rel.Spec.Version
			for _, img := range f.rel.Images {
				served, source := orasRepo(t, host, img.Repository), orasRepo(t, f.source, img.Repository)
				desc, err := served.Resolve(ctx, version)
				if err != nil || desc.Digest != img.Descriptor.Digest || desc.MediaType != img.Descriptor.MediaType {
					t.Fatalf("%s:%s resolves to %v (%v), want %s", img.Repository, version, desc.Digest, err, img.Descriptor.Digest)
				}
				for dg, size := range img.Blobs {
					d := ocispec.Descriptor{Digest: dg, Size: size}
					// The source registry serves manifests only from
					// /manifests/; serve, as distribution does, from both.
					var want []byte
					if md, err := source.Manifests().Resolve(ctx, dg.String()); err == nil {
						want, _ = content.FetchAll(ctx, source.Manifests(), md)
					} else {
						want = fetchBlob(t, source, d)
					}
					if got := fetchBlob(t, served, d); !bytes.Equal(got, want) {
						t.Errorf("%s: blob %s differs from the source", img.Repository, dg)
					}
				}
				gotMan, err := content.FetchAll(ctx, served, img.Descriptor)
				if err != nil {
					t.Fatal(err)
				}
				wantMan, _ := content.FetchAll(ctx, source, img.Descriptor)
				if !bytes.Equal(gotMan, wantMan) {
					t.Errorf("%s: manifest differs from the source", img.Repository)
				}
				assertCranePull(t, host, img)
			}
			if len(b.Info.Repositories) != len(f.rel.Images)+1 || b.Info.Root == "" {
				t.Errorf("info %+v", b.Info)
			}
		})
	}
}

func fetchBlob(t *testing.T, r *oremote.Repository, d ocispec.Descriptor) []byte {
	t.Helper()
	rc, err := r.Blobs().Fetch(context.Background(), d)
	if err != nil {
		t.Fatalf("fetch %s from %s: %v", d.Digest, r.Reference, err)
	}
	defer rc.Close()
	data, err := io.ReadAll(rc)
	if err != nil {
		t.Fatal(err)
	}
	return data
}

// assertCranePull pulls an image by digest with go-containerregistry (crane,
// or remote for an index) and validates it whole: every manifest, config and
// layer against its digest.
func assertCranePull(t *testing.T, host string, img sample.Image) {
	t.Helper()
	ref, err := name.ParseReference(host+"/"+img.Repository+"@"+img.Descriptor.Digest.String(), name.Insecure)
	if err != nil {
		t.Fatal(err)
	}
	if img.Descriptor.MediaType == ocispec.MediaTypeImageIndex {
		idx, err := ggcrremote.Index(ref)
		if err != nil {
			t.Fatal(err)
		}
		if err := validate.Index(idx); err != nil {
			t.Errorf("%s: %v", ref, err)
		}
		return
	}
	im, err := crane.Pull(ref.String(), crane.Insecure)
	if err != nil {
		t.Fatal(err)
	}
	if err := validate.Image(im); err != nil {
		t.Errorf("%s: %v", ref, err)
	}
	raw, _ := im.RawManifest()
	if digest.FromBytes(raw) != img.Descriptor.Digest {
		t.Errorf("%s: crane pulled manifest %s", ref, digest.FromBytes(raw))
	}
}

// TestServeBundleRepository pulls the bundle itself by digest from its
// repository, finds its signature through the referrers API, and checks
// that every byte matches the bundle directory.
func TestServeBundleRepository(t *testing.T) {
	f := newServedSample(t, sample.Spec{})
	ctx := context.Background()
	host, b := serveBundle(t, f, f.tar, nil)
	repo := orasRepo(t, host, bundle.DefaultBundleRepository)
	root, err := repo.Resolve(ctx, f.rel.Spec.Version)
	if err != nil || root.Digest != b.Info.Root {
		t.Fatalf("bundle tag resolves to %v (%v), want %s", root.Digest, err, b.Info.Root)
	}
	out := t.TempDir()
	dst, err := oci.New(out)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := oras.Copy(ctx, repo, root.Digest.String(), dst, "", oras.DefaultCopyOptions); err != nil {
		t.Fatalf("copy the bundle by digest: %v", err)
	}
	assertSameBlobs(t, filepath.Join(out, "blobs", "sha256"), filepath.Join(f.dir, "blobs", "sha256"), 2)

	var sigs []ocispec.Descriptor
	err = repo.Referrers(ctx, root, bundle.ArtifactTypeDSSE, func(page []ocispec.Descriptor) error {
		sigs = append(sigs, page...)
		return nil
	})
	if err != nil || len(sigs) != 1 || sigs[0].ArtifactType != bundle.ArtifactTypeDSSE {
		t.Fatalf("referrers of the root: %+v (%v)", sigs, err)
	}
	sigMan, err := content.FetchAll(ctx, repo, sigs[0])
	if err != nil || bundle.SubjectOf(sigMan) != root.Digest {
		t.Fatalf("signature manifest: %v", err)
	}
	envelope, _ := os.ReadFile(filepath.Join(f.dir, "manifest.dsse"))
	if got := fetchBlob(t, repo, ocispec.Descriptor{Digest: digest.FromBytes(envelope), Size: int64(len(envelope))}); !bytes.Equal(got, envelope) {
		t.Error("served envelope differs from manifest.dsse")
	}
}

// assertSameBlobs checks that every blob file in got is the file of the
// same name in want, and that got misses at most missing of want's.
func assertSameBlobs(t *testing.T, got, want string, missing int) {
	t.Helper()
	entries, err := os.ReadDir(got)
	if err != nil {
		t.Fatal(err)
	}
	wantEntries, _ := os.ReadDir(want)
	for _, e := range entries {
		g, _ := os.ReadFile(filepath.Join(got, e.Name()))
		w, err := os.ReadFile(filepath.Join(want, e.Name()))
		if err != nil || !bytes.Equal(g, w) {
			t.Errorf("blob %s differs from the bundle's (%v)", e.Name(), err)
		}
	}
	if len(entries) < len(wantEntries)-missing {
		t.Errorf("pulled %d of the bundle's %d blobs", len(entries), len(wantEntries))
	}
}

// TestServeReferrersAndScoping lists an image's referrers with and without
// an artifactType filter, and checks that content is only served from the
// repositories whose graph holds it.
func TestServeReferrersAndScoping(t *testing.T) {
	f := newServedSample(t, sample.Spec{})
	ctx := context.Background()
	host, _ := serveBundle(t, f, f.dir, func(o *mirror.ServeOptions) { o.RepoPrefix = "mirror" })
	authority, concelier := f.rel.Images[0], f.rel.Images[1]
	repo := orasRepo(t, host, "mirror/"+authority.Repository)
	list := func(at string) []ocispec.Descriptor {
		var out []ocispec.Descriptor
		if err := repo.Referrers(ctx, authority.Descriptor, at, func(p []ocispec.Descriptor) error {
			out = append(out, p...)
			return nil
		}); err != nil {
			t.Fatal(err)
		}
		return out
	}
	all := list("")
	if len(all) != 1 || all[0].Digest != authority.Referrer.Digest || all[0].ArtifactType != "application/spdx+json" ||
		all[0].Annotations[ocispec.AnnotationCreated] == "" {
		t.Fatalf("referrers %+v, want the SBOM %s with its annotations", all, authority.Referrer.Digest)
	}
	if got := list("application/spdx+json"); len(got) != 1 {
		t.Errorf("filtered on the SBOM type: %d referrers", len(got))
	}
	if got := list("application/vnd.example.none"); len(got) != 0 {
		t.Errorf("filtered on another type: %d referrers", len(got))
	}

	// Unprefixed names do not exist; the prefixed ones do.
	if _, err := orasRepo(t, host, authority.Repository).Resolve(ctx, f.rel.Spec.Version); err == nil {
		t.Error("image served under its unmapped name")
	}
	// A blob of authority (its own layer, not the shared base) is unknown
	// in concelier's repository.
	own := authority.Blobs
	for dg := range concelier.Blobs {
		delete(own, dg)
	}
	other := orasRepo(t, host, "mirror/"+concelier.Repository)
	for dg, size := range own {
		if ok, err := other.Exists(ctx, ocispec.Descriptor{Digest: dg, Size: size, MediaType: "application/octet-stream"}); ok || err != nil {
			t.Errorf("authority's blob %s is served from concelier's repository (%v)", dg, err)
		}
	}
	// Tags are listed, the catalog pages.
	reg, _ := oremote.NewRegistry(host)
	reg.PlainHTTP = true
	reg.RepositoryListPageSize = 2
	var repos []string
	if err := reg.Repositories(ctx, "", func(p []string) error { repos = append(repos, p...); return nil }); err != nil {
		t.Fatal(err)
	}
	if len(repos) != len(f.rel.Images)+1 || !slices.IsSorted(repos) || !slices.Contains(repos, bundle.DefaultBundleRepository) {
		t.Errorf("catalog %v", repos)
	}
}

// TestServeRefuses checks that a bundle that fails any of import's checks
// is never served, and that each failure says why with the right sentinel.
func TestServeRefuses(t *testing.T) {
	f := newServedSample(t, sample.Spec{})
	_, otherPub := testKeys(t, "other")
	tests := []struct {
		name    string
		break_  func(t *testing.T, dir string) string // returns the path to serve
		mod     func(*mirror.ServeOptions)
		wantErr error
		wantMsg string
	}{
		{name: "no trust", mod: func(o *mirror.ServeOptions) { o.Trust = mirror.TrustOptions{} }, wantErr: errdef.ErrUsage, wantMsg: "never served"},
		{name: "untrusted signer", mod: func(o *mirror.ServeOptions) { o.Trust = trustKeys(otherPub) }, wantErr: errdef.ErrSignature},
		{name: "unsigned", break_: func(t *testing.T, dir string) string {
			os.Remove(filepath.Join(dir, "manifest.dsse"))
			return dir
		}, wantErr: errdef.ErrSignature, wantMsg: "not signed"},
		{name: "manifest.json changed after signing", break_: func(t *testing.T, dir string) string {
			edit(t, filepath.Join(dir, "manifest.json"), func(b []byte) []byte { return bytes.Replace(b, []byte(`"stable"`), []byte(`"stabl3"`), 1) })
			return dir
		}, wantErr: errdef.ErrSignature},
		{name: "tampered layer", break_: func(t *testing.T, dir string) string {
			edit(t, largestBlob(t, dir), func(b []byte) []byte { b[len(b)/2] ^= 1; return b })
			return dir
		}, wantErr: errdef.ErrDigestMismatch},
		{name: "tampered layer in the tar", break_: func(t *testing.T, dir string) string {
			out := filepath.Join(t.TempDir(), "b.tar")
			data, _ := os.ReadFile(f.tar)
			x, err := layout.IndexTar(bytes.NewReader(data), int64(len(data)))
			if err != nil {
				t.Fatal(err)
			}
			rel, _ := filepath.Rel(dir, largestBlob(t, dir))
			e, _ := x.Entry(filepath.ToSlash(rel))
			data[e.Offset+e.Size/2] ^= 1
			os.WriteFile(out, data, 0o644)
			return out
		}, wantErr: errdef.ErrDigestMismatch},
		{name: "missing layer", break_: func(t *testing.T, dir string) string {
			os.Remove(largestBlob(t, dir))
			return dir
		}, wantErr: errdef.ErrDigestMismatch, wantMsg: "is missing"},
		{name: "expired", mod: func(o *mirror.ServeOptions) { o.Now = fixedTime.Add(mirror.DefaultValidFor + time.Second) }, wantErr: errdef.ErrExpired, wantMsg: "--allow-expired"},
		{name: "bad prefix", mod: func(o *mirror.ServeOptions) { o.RepoPrefix = "UPPER" }, wantErr: errdef.ErrUsage},
		{name: "bad bundle repository", mod: func(o *mirror.ServeOptions) { o.BundleRepo = "../bundle" }, wantErr: errdef.ErrUsage},
		{name: "compressed tar without a seek table", break_: func(t *testing.T, dir string) string {
			out := filepath.Join(t.TempDir(), "b.tar")
			if _, err := mirror.Pack(context.Background(), mirror.PackOptions{Dir: dir, Output: out}); err != nil {
				t.Fatal(err)
			}
			return testutil.ForeignArchive(t, out, "b.tar.gz")
		}, wantErr: errdef.ErrUsage, wantMsg: "gzip-compressed without a seek table, and cannot be read at random: another tool's archive (decompress it once, gzip -dk "},
		// A copy of pack's .tar.zst cut short (a stick pulled before the
		// copy ended) has lost its seek table with its end: serve said it
		// was "not written by stella mirror pack" and to decompress it,
		// which fails too; the way to tell is verify.
		{name: "pack's .tar.zst cut short", break_: func(t *testing.T, dir string) string {
			out := filepath.Join(t.TempDir(), "b.tar.zst")
			if _, err := mirror.Pack(context.Background(), mirror.PackOptions{Dir: dir, Output: out}); err != nil {
				t.Fatal(err)
			}
			data, _ := os.ReadFile(out)
			os.WriteFile(out, data[:len(data)*2/3], 0o644)
			return out
		}, wantErr: errdef.ErrUsage, wantMsg: "or one pack wrote that was cut short, its table lost with its end (stella mirror verify "},
		{name: "not a bundle", break_: func(t *testing.T, dir string) string { return t.TempDir() }, wantErr: errdef.ErrNotFound},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := f.dir
			if tt.break_ != nil {
				path = tt.break_(t, copyBundle(t, f.dir))
			}
			opts := f.serveOpts(path)
			if tt.mod != nil {
				tt.mod(&opts)
			}
			b, err := mirror.OpenServed(context.Background(), opts)
			if err == nil {
				b.Close()
			}
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("err = %v, want %v", err, tt.wantErr)
			}
			if !strings.Contains(err.Error(), tt.wantMsg) || strings.Contains(err.Error(), "\n") {
				t.Errorf("error %q does not say %q on one line", err, tt.wantMsg)
			}
		})
	}
	// Past its expiry, a bundle is served only when asked to.
	opts := f.serveOpts(f.tar)
	opts.Now, opts.AllowExpired = fixedTime.Add(mirror.DefaultValidFor+time.Second), true
	b, err := mirror.OpenServed(context.Background(), opts)
	if err != nil {
		t.Fatalf("--allow-expired: %v", err)
	}
	b.Close()
}

func edit(t *testing.T, path string, fn func([]byte) []byte) {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, fn(data), 0o644); err != nil {
		t.Fatal(err)
	}
}

// largestBlob returns the path of the bundle's largest blob: a layer.
func largestBlob(t *testing.T, dir string) string {
	t.Helper()
	entries, _ := os.ReadDir(filepath.Join(dir, "blobs", "sha256"))
	var best string
	var size int64
	for _, e := range entries {
		info, _ := e.Info()
		if info.Size() > size {
			best, size = filepath.Join(dir, "blobs", "sha256", e.Name()), info.Size()
		}
	}
	return best
}

// TestServeListensAndShutsDown runs Serve on a free port, pulls through
// the address Ready reports, and checks that cancelling the context shuts
// it down cleanly (nil, no error).
func TestServeListensAndShutsDown(t *testing.T) {
	f := newServedSample(t, sample.Spec{})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	ready := make(chan mirror.ServeInfo, 1)
	done := make(chan error, 1)
	go func() {
		opts := f.serveOpts(f.tar)
		opts.Addr, opts.Ready = "127.0.0.1:0", func(i mirror.ServeInfo) { ready <- i }
		done <- mirror.Serve(ctx, opts)
	}()
	var info mirror.ServeInfo
	select {
	case info = <-ready:
	case err := <-done:
		t.Fatalf("Serve returned before it was ready: %v", err)
	}
	resp, err := http.Get(info.URL + "/v2/" + f.rel.Images[0].Repository + "/manifests/" + f.rel.Spec.Version)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || resp.Header.Get("Docker-Content-Digest") != f.rel.Images[0].Descriptor.Digest.String() {
		t.Fatalf("GET manifest: %s %v", resp.Status, resp.Header)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("Serve after cancel: %v", err)
	}
	if _, err := http.Get(info.URL + "/v2/"); err == nil {
		t.Error("still listening after shutdown")
	}
}
