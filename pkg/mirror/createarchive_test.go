package mirror_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/opencontainers/go-digest"
	specs "github.com/opencontainers/image-spec/specs-go"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/stellaops/mirror/internal/sample"
	"github.com/stellaops/mirror/internal/testutil"
	"github.com/stellaops/mirror/pkg/errdef"
	"github.com/stellaops/mirror/pkg/mirror"
)

// TestCreateArchive: create --output FILE.tar writes, in one pass, exactly
// the archive create + pack would; signed with --key, it imports; a source
// serving a bad large blob leaves no archive behind.
func TestCreateArchive(t *testing.T) {
	t.Parallel()
	spec := sample.Spec{BaseLayerSize: 3 << 20, LayerSize: 2 << 20}
	host := testutil.Registry(t)
	_, releaseFile, advisories := testutil.PushSample(t, host, spec)
	ctx := context.Background()
	work := t.TempDir()

	dir := filepath.Join(work, "bundle")
	if _, err := mirror.Create(ctx, createOpts(t, releaseFile, advisories, dir)); err != nil {
		t.Fatal(err)
	}
	packed := filepath.Join(work, "packed.tar")
	if _, err := mirror.Pack(ctx, mirror.PackOptions{Dir: dir, Output: packed}); err != nil {
		t.Fatal(err)
	}
	direct := filepath.Join(work, "direct.tar")
	res, err := mirror.Create(ctx, createOpts(t, releaseFile, advisories, direct))
	if err != nil {
		t.Fatal(err)
	}
	a, _ := os.ReadFile(packed)
	b, _ := os.ReadFile(direct)
	if !bytes.Equal(a, b) || res.Path != direct {
		t.Fatalf("create --output FILE.tar (%d bytes) differs from create + pack (%d bytes)", len(b), len(a))
	}

	priv, pub := testKeys(t, "archive")
	signed := filepath.Join(work, "signed.tar")
	opts := createOpts(t, releaseFile, advisories, signed)
	opts.Key, opts.Password = priv, testPass
	if _, err := mirror.Create(ctx, opts); err != nil {
		t.Fatal(err)
	}
	target := testutil.Registry(t)
	iopts := importOpts(t, signed, target, pub)
	if _, err := mirror.Import(ctx, iopts); err != nil {
		t.Fatalf("import of the signed archive: %v", err)
	}
	if entries, _ := os.ReadDir(work); len(entries) != 4 {
		t.Errorf("left behind: %v", entries)
	}

	// A source that corrupts one large layer: no archive, nothing left.
	var victim digest.Digest
	corrupting := testutil.NewCorruptingRegistry(t)
	rel, rf, adv := testutil.PushSample(t, corrupting.Host, spec)
	for dg, size := range rel.Images[0].Blobs {
		if size > 2<<20 && size < 3<<20 {
			victim = dg
		}
	}
	corrupting.Corrupt(victim)
	out := filepath.Join(t.TempDir(), "bad.tar")
	bad := createOpts(t, rf, adv, out)
	bad.Key, bad.Password = priv, testPass
	if _, err := mirror.Create(ctx, bad); !errors.Is(err, errdef.ErrDigestMismatch) || !strings.Contains(err.Error(), victim.String()) {
		t.Fatalf("corrupt source: %v", err)
	}
	if entries, _ := os.ReadDir(filepath.Dir(out)); len(entries) != 0 {
		t.Errorf("left behind: %v", entries)
	}
}

// An image whose layer is the empty JSON {} (OCI 1.1's empty descriptor, as
// artifacts without files carry it), a blob the bundle's own metadata
// artifact also has (as its config): the directory holds it, so the archive
// packs it from there, once. create --output used to list it twice in
// SHA256SUMS and fail.
func TestCreateArchiveSharedEmptyBlob(t *testing.T) {
	ctx := context.Background()
	host := testutil.Registry(t)
	repo, err := testutil.Client(t).Repository(host + "/stellaops/feeds")
	if err != nil {
		t.Fatal(err)
	}
	push := func(desc ocispec.Descriptor, data []byte) ocispec.Descriptor {
		if err := repo.Push(ctx, desc, bytes.NewReader(data)); err != nil {
			t.Fatal(err)
		}
		return desc
	}
	cfg := []byte(`{"architecture":"amd64","os":"linux","rootfs":{"type":"layers","diff_ids":[]}}`)
	config := push(ocispec.Descriptor{MediaType: ocispec.MediaTypeImageConfig, Digest: digest.FromBytes(cfg), Size: int64(len(cfg))}, cfg)
	empty := ocispec.DescriptorEmptyJSON
	empty.Data = nil
	push(empty, []byte("{}"))
	man, _ := json.Marshal(ocispec.Manifest{Versioned: specs.Versioned{SchemaVersion: 2}, MediaType: ocispec.MediaTypeImageManifest, Config: config, Layers: []ocispec.Descriptor{empty}})
	root := push(ocispec.Descriptor{MediaType: ocispec.MediaTypeImageManifest, Digest: digest.FromBytes(man), Size: int64(len(man))}, man)

	work := t.TempDir()
	list := filepath.Join(work, "release.txt")
	if err := os.WriteFile(list, []byte(host+"/stellaops/feeds@"+root.Digest.String()+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	opts := func(out string) mirror.CreateOptions {
		o := createOpts(t, list, "", out)
		o.Version = "2026.11.0"
		return o
	}
	dir := filepath.Join(work, "bundle")
	if _, err := mirror.Create(ctx, opts(dir)); err != nil {
		t.Fatal(err)
	}
	packed := filepath.Join(work, "packed.tar")
	if _, err := mirror.Pack(ctx, mirror.PackOptions{Dir: dir, Output: packed}); err != nil {
		t.Fatal(err)
	}
	direct := filepath.Join(work, "direct.tar")
	if _, err := mirror.Create(ctx, opts(direct)); err != nil {
		t.Fatalf("create --output: %v", err)
	}
	a, _ := os.ReadFile(packed)
	b, _ := os.ReadFile(direct)
	if !bytes.Equal(a, b) {
		t.Fatalf("create --output FILE.tar (%d bytes) differs from create + pack (%d bytes)", len(b), len(a))
	}
	if n := bytes.Count(a, []byte("blobs/sha256/"+empty.Digest.Encoded())); n != 2 {
		t.Errorf("the empty blob is named %d times in the archive, want twice (its entry, its line in SHA256SUMS)", n)
	}
}

// The signing key is opened before anything is fetched: a wrong password
// fails create --output FILE.tar --key at once, with no request to the
// registry and nothing left behind.
func TestCreateArchiveWrongPasswordFailsFirst(t *testing.T) {
	host, blobGETs := countingBlobGets(t)
	_, releaseFile, advisories := testutil.PushSample(t, host, sample.Spec{})
	priv, _ := testKeys(t, "wrong-password")
	out := filepath.Join(t.TempDir(), "signed.tar")
	opts := createOpts(t, releaseFile, advisories, out)
	opts.Key = priv
	opts.Password = func() ([]byte, error) { return []byte("not the password"), nil }
	before := blobGETs.Load()
	_, err := mirror.Create(context.Background(), opts)
	if !errors.Is(err, errdef.ErrUsage) || !strings.Contains(err.Error(), priv) {
		t.Fatalf("wrong password: %v", err)
	}
	if n := blobGETs.Load() - before; n != 0 {
		t.Errorf("%d blobs fetched before the key was opened", n)
	}
	if entries, _ := os.ReadDir(filepath.Dir(out)); len(entries) != 0 {
		t.Errorf("left behind: %v", entries)
	}
}

// TestCreateCompressedOutputRefused: create writes a directory or a .tar;
// --output FILE.tar.gz or FILE.tar.zst (what pack writes) is refused as a
// usage error, not taken as the name of a bundle directory.
func TestCreateCompressedOutputRefused(t *testing.T) {
	host := testutil.Registry(t)
	_, releaseFile, advisories := testutil.PushSample(t, host, sample.Spec{})
	for _, name := range []string{"bundle.tar.zst", "bundle.tar.gz", "bundle.tgz"} {
		t.Run(name, func(t *testing.T) {
			out := filepath.Join(t.TempDir(), name)
			_, err := mirror.Create(context.Background(), createOpts(t, releaseFile, advisories, out))
			if !errors.Is(err, errdef.ErrUsage) || !strings.Contains(err.Error(), "pack") {
				t.Fatalf("err = %v, want a usage error pointing to pack", err)
			}
			if entries, _ := os.ReadDir(filepath.Dir(out)); len(entries) != 0 {
				t.Errorf("left behind: %v", entries)
			}
		})
	}
}

// An unrelated FILE.tar.d beside the archive create writes (a directory of
// the operator's, or a file) neither blocks it nor is touched: create
// stages in a hidden directory of its own. It used to stage in FILE.tar.d
// and refuse when that existed.
func TestCreateArchiveIgnoresNeighbourNamedLikeStaging(t *testing.T) {
	host := testutil.Registry(t)
	_, releaseFile, advisories := testutil.PushSample(t, host, sample.Spec{})
	for _, kind := range []string{"directory", "file"} {
		t.Run(kind, func(t *testing.T) {
			work := t.TempDir()
			out := filepath.Join(work, "bundle.tar")
			neighbour := out + ".d"
			mine := filepath.Join(neighbour, "notes.txt")
			if kind == "directory" {
				os.Mkdir(neighbour, 0o755)
			} else {
				mine = neighbour
			}
			if err := os.WriteFile(mine, []byte("mine"), 0o644); err != nil {
				t.Fatal(err)
			}
			if _, err := mirror.Create(context.Background(), createOpts(t, releaseFile, advisories, out)); err != nil {
				t.Fatalf("create beside %s: %v", neighbour, err)
			}
			if data, err := os.ReadFile(mine); err != nil || string(data) != "mine" {
				t.Errorf("%s changed: %q %v", mine, data, err)
			}
			entries, _ := os.ReadDir(work)
			if len(entries) != 2 {
				t.Errorf("left behind: %v", entries)
			}
			if fi, err := os.Stat(out); err != nil || fi.Size() == 0 {
				t.Errorf("no archive: %v", err)
			}
		})
	}
}

// countingBlobGets is an in-process registry that counts the blob GETs it
// answers.
func countingBlobGets(t *testing.T) (string, *atomic.Int64) {
	var gets atomic.Int64
	host := testutil.RegistryWrapped(t, func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.Method == http.MethodGet && strings.Contains(r.URL.Path, "/blobs/") {
				gets.Add(1)
			}
			next.ServeHTTP(w, r)
		})
	})
	return host, &gets
}
