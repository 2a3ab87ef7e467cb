package mirror_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/opencontainers/go-digest"

	"github.com/stellaops/mirror/internal/sample"
	"github.com/stellaops/mirror/internal/testutil"
	"github.com/stellaops/mirror/pkg/errdef"
	"github.com/stellaops/mirror/pkg/layout"
	"github.com/stellaops/mirror/pkg/mirror"
)

// deltaFixture is a release A imported into a registry, and the next
// release B (two images and the advisories changed) in the same source.
type deltaFixture struct {
	source, target string
	a              *signedSample
	releaseB       string
	advisoriesB    string
	relB           *sample.Release
}

func newDeltaFixture(t *testing.T) *deltaFixture {
	t.Helper()
	spec := sample.Spec{BaseLayerSize: 8 << 20, LayerSize: 8 << 20}
	f := &deltaFixture{a: newSignedSample(t, spec, 100)}
	f.source = f.a.source
	spec.Variant = 5
	spec.Version = "2025.11.0"
	f.relB, f.releaseB, f.advisoriesB = testutil.PushSample(t, f.source, spec)
	f.target = testutil.Distribution(t)
	if _, err := mirror.Import(context.Background(), importOpts(t, f.a.dir, f.target, f.a.pub)); err != nil {
		t.Fatal(err)
	}
	return f
}

// inventory writes, signed with A's key, the inventory of the target that
// holds release A, and returns its path.
func (f *deltaFixture) inventory(t *testing.T) (string, *mirror.InventoryResult) {
	t.Helper()
	inv := filepath.Join(t.TempDir(), "inventory.json")
	res, err := mirror.Inventory(context.Background(), mirror.InventoryOptions{Registry: f.target, Output: inv, Key: f.a.priv, Password: testPass, Trust: trustKeys(f.a.pub), Client: testutil.Client(t)})
	if err != nil {
		t.Fatal(err)
	}
	return inv, res
}

// create makes release B as a bundle (a delta with base), signs and packs
// it.
func (f *deltaFixture) create(t *testing.T, base string, trust mirror.TrustOptions) (dir, tarPath string) {
	t.Helper()
	dir = filepath.Join(t.TempDir(), "bundle")
	opts := createOpts(t, f.releaseB, f.advisoriesB, dir)
	opts.Base, opts.BaseTrust = base, trust
	if _, err := mirror.Create(context.Background(), opts); err != nil {
		t.Fatal(err)
	}
	sign(t, dir, f.a.priv)
	tarPath = filepath.Join(t.TempDir(), "bundle.tar")
	if _, err := mirror.Pack(context.Background(), mirror.PackOptions{Dir: dir, Output: tarPath}); err != nil {
		t.Fatal(err)
	}
	return dir, tarPath
}

func TestDeltaBundle(t *testing.T) {
	t.Parallel()
	f := newDeltaFixture(t)
	ctx := context.Background()
	fullDir, fullTar := f.create(t, "", mirror.TrustOptions{})
	deltaDir, deltaTar := f.create(t, f.a.dir, trustKeys(f.a.pub))

	full, delta := readManifest(t, fullDir), readManifest(t, deltaDir)
	a := readManifest(t, f.a.dir)
	if delta.Base == nil || delta.Base.BundleID != a.BundleID || delta.Base.Generation != a.MirrorGeneration || delta.MirrorGeneration != a.MirrorGeneration+1 {
		t.Fatalf("delta base %+v, generation %d", delta.Base, delta.MirrorGeneration)
	}
	if !reflect.DeepEqual(full.Images, delta.Images) || !reflect.DeepEqual(full.Advisories, delta.Advisories) {
		t.Error("the delta does not list the same images and advisories as the full bundle")
	}
	// Size: the new unique bytes, plus under 1% (and 1 MiB) of overhead.
	inA := map[digest.Digest]bool{}
	for _, img := range f.a.rel.Images {
		for dg := range img.Blobs {
			inA[dg] = true
		}
	}
	var newBytes int64
	seen := map[digest.Digest]bool{}
	for _, img := range f.relB.Images {
		for dg, n := range img.Blobs {
			if !inA[dg] && !seen[dg] {
				seen[dg] = true
				newBytes += n
			}
		}
	}
	for _, adv := range delta.Advisories {
		newBytes += adv.Size
	}
	// The kit (scripts/update.sh, the guides) goes in every bundle, a
	// delta's too: the operator who gets only the delta runs update.sh
	// from it. It was omitted as its base held it, leaving the delta with
	// no scripts/ and no docs/.
	omitted := map[digest.Digest]bool{}
	for _, dg := range delta.Base.Omitted {
		omitted[dg] = true
	}
	if len(delta.Files) == 0 {
		t.Error("the delta lists no files")
	}
	for _, f := range delta.Files {
		if _, err := os.Stat(filepath.Join(deltaDir, filepath.FromSlash(f.Path))); err != nil || omitted[f.Digest] {
			t.Errorf("the delta does not carry %s (omitted: %v): %v", f.Path, omitted[f.Digest], err)
		}
		newBytes += f.Size
		// A file is carried twice by design: under its path for people,
		// and as a blob of the metadata manifest for the registry form.
		if _, err := os.Stat(filepath.Join(deltaDir, filepath.FromSlash(layout.BlobName(f.Digest)))); err == nil {
			newBytes += f.Size
		}
	}
	st, _ := os.Stat(deltaTar)
	fst, _ := os.Stat(fullTar)
	overhead := st.Size() - newBytes
	t.Logf("full %d bytes, delta %d bytes: new unique %d + overhead %d (%.2f%%)", fst.Size(), st.Size(), newBytes, overhead, 100*float64(overhead)/float64(newBytes))
	if overhead < 0 || overhead*100 >= newBytes || overhead >= 1<<20 {
		t.Errorf("delta overhead %d bytes over %d new bytes: want under 1%% and 1 MiB", overhead, newBytes)
	}
	if _, err := verify(deltaDir, trustKeys(f.a.pub)); err != nil {
		t.Errorf("verify delta: %v", err)
	}

	// Into an empty registry: refused before anything is written.
	empty := testutil.Distribution(t)
	_, err := mirror.Import(ctx, importOpts(t, deltaTar, empty, f.a.pub))
	if !errors.Is(err, errdef.ErrMalformed) || !strings.Contains(err.Error(), a.BundleID) {
		t.Fatalf("delta into an empty registry: %v", err)
	}
	if tags := testutil.Tags(t, empty); len(tags) != 0 {
		t.Errorf("delta into an empty registry wrote %v", tags)
	}

	// Base then delta = full: every image, digest by digest. The delta
	// comes compressed, so it is read as a stream, checking for the blobs
	// it lacks once the stream is over.
	deltaZst := filepath.Join(t.TempDir(), "delta.tar.zst")
	if _, err := mirror.Pack(ctx, mirror.PackOptions{Dir: deltaDir, Output: deltaZst}); err != nil {
		t.Fatal(err)
	}
	if _, err := mirror.Import(ctx, importOpts(t, deltaZst, f.target, f.a.pub)); err != nil {
		t.Fatal(err)
	}
	fullTarget := testutil.Distribution(t)
	if _, err := mirror.Import(ctx, importOpts(t, fullTar, fullTarget, f.a.pub)); err != nil {
		t.Fatal(err)
	}
	client := testutil.Client(t)
	for _, img := range f.relB.Images {
		for _, host := range []string{f.target, fullTarget} {
			repo, _ := client.Repository(host + "/" + img.Repository)
			if d, err := repo.Resolve(ctx, f.relB.Spec.Version); err != nil || d.Digest != img.Descriptor.Digest {
				t.Errorf("%s/%s:%s = %s (%v)", host, img.Repository, f.relB.Spec.Version, d.Digest, err)
			}
			for dg, size := range img.Blobs {
				if _, err := readContent(ctx, repo, dg, size); err != nil {
					t.Errorf("%s/%s lacks %s: %v", host, img.Repository, dg, err)
				}
			}
		}
	}
}

// TestDeltaFromInventory makes the delta from a signed inventory of the
// far side instead of the previous bundle: the same blobs are omitted.
func TestDeltaFromInventory(t *testing.T) {
	t.Parallel()
	f := newDeltaFixture(t)
	inv, res := f.inventory(t)
	if res.Bundles != 1 || res.Blobs == 0 || res.Signature == "" {
		t.Fatalf("inventory %+v", res)
	}
	fromBundle, _ := f.create(t, f.a.dir, trustKeys(f.a.pub))
	fromInventory, _ := f.create(t, inv, trustKeys(f.a.pub))
	b, i := readManifest(t, fromBundle), readManifest(t, fromInventory)
	if !reflect.DeepEqual(b.Base, i.Base) {
		t.Errorf("base from the bundle %+v, from the inventory %+v", b.Base, i.Base)
	}
	// A tampered inventory does not verify.
	data, _ := os.ReadFile(inv)
	os.WriteFile(inv, append(data[:len(data)-2], ' ', '}', '\n'), 0o644)
	opts := createOpts(t, f.releaseB, f.advisoriesB, filepath.Join(t.TempDir(), "x"))
	opts.Base, opts.BaseTrust = inv, trustKeys(f.a.pub)
	if _, err := mirror.Create(context.Background(), opts); !errors.Is(err, errdef.ErrSignature) {
		t.Errorf("tampered inventory: %v", err)
	}
	// An inventory is read only as inventory writes it, signed or not:
	// TestInventoryKeyTwiceRefused.
}
