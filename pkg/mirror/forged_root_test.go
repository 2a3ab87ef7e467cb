package mirror_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	oremote "oras.land/oras-go/v2/registry/remote"

	"github.com/stellaops/mirror/internal/sample"
	"github.com/stellaops/mirror/internal/testutil"
	"github.com/stellaops/mirror/pkg/bundle"
	"github.com/stellaops/mirror/pkg/errdef"
	"github.com/stellaops/mirror/pkg/mirror"
)

// forgedRepo is a far-side registry that holds bundle A (generation 100,
// signed with A's key, imported) and, in the same bundle repository, a
// bundle pushed by someone with push rights there: release 2099.1.0 of
// generation 4000000000, signed with another key.
type forgedRepo struct {
	a      *signedSample
	target string
	repo   string // host/stellaops/mirror-bundle
	forged digest.Digest
	// forgedOnly are blobs of the forged bundle that A does not have.
	forgedOnly []digest.Digest
}

func newForgedRepo(t *testing.T) *forgedRepo {
	t.Helper()
	ctx := context.Background()
	f := &forgedRepo{a: newSignedSample(t, sample.Spec{}, 100), target: testutil.Registry(t)}
	f.repo = f.target + "/" + bundle.DefaultBundleRepository
	if _, err := mirror.Import(ctx, importOpts(t, f.a.dir, f.target, f.a.pub)); err != nil {
		t.Fatal(err)
	}
	var dir string
	f.forged, dir = f.pushForged(t, "2099.1.0", 4000000000, 9)
	inA := map[digest.Digest]bool{}
	for _, d := range blobDigests(t, f.a.dir) {
		inA[d] = true
	}
	for _, d := range blobDigests(t, dir) {
		if !inA[d] {
			f.forgedOnly = append(f.forgedOnly, d)
		}
	}
	if len(f.forgedOnly) == 0 {
		t.Fatal("the forged bundle has no blob of its own")
	}
	return f
}

// pushForged pushes to the bundle repository, as anyone with push rights
// there can, a bundle of release version and generation made from sample
// variant and signed with a key nobody trusts; it returns its root and
// directory.
func (f *forgedRepo) pushForged(t *testing.T, version string, generation int64, variant uint64) (digest.Digest, string) {
	t.Helper()
	otherPriv, _ := testKeys(t, "attacker")
	return f.pushSigned(t, version, generation, variant, otherPriv)
}

// pushSigned pushes to the bundle repository a bundle of release version
// and generation made from sample variant and signed with priv; it
// returns its root and directory.
func (f *forgedRepo) pushSigned(t *testing.T, version string, generation int64, variant uint64, priv string) (digest.Digest, string) {
	t.Helper()
	ctx := context.Background()
	_, releaseFile, advisories := testutil.PushSample(t, f.a.source, sample.Spec{Version: version, Variant: variant})
	dir := filepath.Join(t.TempDir(), "forged")
	opts := createOpts(t, releaseFile, advisories, dir)
	opts.Generation = generation
	if _, err := mirror.Create(ctx, opts); err != nil {
		t.Fatal(err)
	}
	sign(t, dir, priv)
	res, err := mirror.Push(ctx, mirror.PushOptions{Now: testNow, Source: dir, Reference: f.repo, Client: testutil.Client(t), Transfer: transferOpts()})
	if err != nil {
		t.Fatal(err)
	}
	return res.Root, dir
}

// blobDigests lists the blobs of a bundle directory's layout.
func blobDigests(t *testing.T, dir string) []digest.Digest {
	t.Helper()
	entries, err := os.ReadDir(filepath.Join(dir, "blobs", "sha256"))
	if err != nil {
		t.Fatal(err)
	}
	var out []digest.Digest
	for _, e := range entries {
		out = append(out, digest.NewDigestFromEncoded(digest.SHA256, e.Name()))
	}
	return out
}

// logBuffer is a logger whose warnings land in a buffer, as on stderr.
func logBuffer() (*slog.Logger, *bytes.Buffer) {
	var buf bytes.Buffer
	return slog.New(slog.NewTextHandler(&buf, &slog.HandlerOptions{Level: slog.LevelWarn})), &buf
}

// skippedLines are the lines of log naming root as skipped.
func skippedLines(log string, root digest.Digest) []string {
	var out []string
	for _, l := range strings.Split(log, "\n") {
		if strings.Contains(l, "skipped bundle root "+root.String()) {
			out = append(out, l)
		}
	}
	return out
}

// TestInventoryListsOnlyVerifiedRoots: inventory signs the list of what the
// far side holds, and the near side's next delta leaves out what it lists.
// It listed every root of the bundle repository, so a root anyone pushed
// there (signed with another key) was listed, with its blobs, under the far
// side's signature. Now only the roots that verify with the trust given
// are listed; the other is named on stderr (digest, tag, why) and counted;
// and --key without a trust key is refused before anything is written.
func TestInventoryListsOnlyVerifiedRoots(t *testing.T) {
	f := newForgedRepo(t)
	ctx := context.Background()
	log, stderr := logBuffer()
	out := filepath.Join(t.TempDir(), "inventory.json")
	res, err := mirror.Inventory(ctx, mirror.InventoryOptions{Registry: f.target, Output: out, Key: f.a.priv, Password: testPass,
		Trust: trustKeys(f.a.pub), Client: testutil.Client(t), Logger: log})
	if err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	var inv mirror.InventoryFile
	if err := json.Unmarshal(data, &inv); err != nil {
		t.Fatal(err)
	}
	if res.Bundles != 1 || len(inv.Bundles) != 1 || inv.Bundles[0].Generation != 100 || inv.Bundles[0].Version != "2025.10.0" {
		t.Fatalf("inventory lists %d bundles (%+v), want A's alone", res.Bundles, inv.Bundles)
	}
	if strings.Contains(string(data), f.forged.Encoded()) {
		t.Errorf("inventory.json names the forged root %s", f.forged)
	}
	for _, d := range f.forgedOnly {
		if strings.Contains(string(data), d.Encoded()) {
			t.Errorf("inventory.json lists blob %s, which only the forged bundle has", d)
		}
	}
	if !res.RootsVerified || res.NotVerified != 1 || res.NewerFormat != 0 || len(res.Skipped) != 1 ||
		res.Skipped[0].Root != f.forged || res.Skipped[0].Tag != "2099.1.0" || res.Skipped[0].Reason != mirror.SkipNotVerified {
		t.Errorf("result %+v", res)
	}
	if lines := skippedLines(stderr.String(), f.forged); len(lines) != 1 || !strings.Contains(lines[0], "2099.1.0") || !strings.Contains(lines[0], "not verified") {
		t.Errorf("stderr names the forged root in %d lines, want 1 with its tag and why:\n%s", len(lines), stderr)
	}

	// A signed inventory is a statement: --key without a trust key is
	// refused, and nothing is written.
	out2 := filepath.Join(t.TempDir(), "inventory.json")
	if _, err := mirror.Inventory(ctx, mirror.InventoryOptions{Registry: f.target, Output: out2, Key: f.a.priv, Password: testPass, Client: testutil.Client(t)}); !errors.Is(err, errdef.ErrUsage) || !strings.Contains(err.Error(), "--bundle-key") {
		t.Errorf("inventory --key without trust: %v", err)
	}
	if _, err := os.Stat(out2); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("refused inventory wrote %s (%v)", out2, err)
	}
	// Unsigned and without trust it lists everything, and says the roots
	// were not verified.
	log, stderr = logBuffer()
	res, err = mirror.Inventory(ctx, mirror.InventoryOptions{Registry: f.target, Output: out2, Client: testutil.Client(t), Logger: log})
	if err != nil || res.Bundles != 2 || res.RootsVerified || res.Signature != "" {
		t.Errorf("unsigned inventory without trust: %v %+v", err, res)
	}
	if !strings.Contains(stderr.String(), "without verifying their signatures") {
		t.Errorf("unverified inventory says nothing of it on stderr:\n%s", stderr)
	}
}

// TestCatalogListsOnlyVerifiedRoots: catalog signs the list of the
// bundles published in a repository. It listed every root there, the one
// signed with another key too. Now it lists only those signed with the
// catalog's key (by default) or the --bundle-key given, names the other;
// and --verify does not count it as a newer bundle the catalog leaves
// out, which made every sound catalog "out of date" (exit 3).
func TestCatalogListsOnlyVerifiedRoots(t *testing.T) {
	f := newForgedRepo(t)
	ctx := context.Background()
	client := testutil.Client(t)
	log, stderr := logBuffer()
	res, err := mirror.Catalog(ctx, mirror.CatalogOptions{Repository: f.repo, Key: f.a.priv, Password: testPass, Client: client, Logger: log})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Bundles) != 1 || res.Bundles[0].Generation != 100 {
		t.Fatalf("catalog lists %+v, want A's bundle alone", res.Bundles)
	}
	if res.NotVerified != 1 || len(res.Skipped) != 1 || res.Skipped[0].Root != f.forged {
		t.Errorf("result skipped %d: %+v", res.NotVerified, res.Skipped)
	}
	if lines := skippedLines(stderr.String(), f.forged); len(lines) != 1 {
		t.Errorf("stderr names the forged root in %d lines, want 1:\n%s", len(lines), stderr)
	}
	log, stderr = logBuffer()
	v, err := mirror.Catalog(ctx, mirror.CatalogOptions{Repository: f.repo, Verify: true, Trust: trustKeys(f.a.pub), Client: client, Logger: log})
	if err != nil {
		t.Fatalf("catalog --verify: %v", err)
	}
	if !v.Verified || len(v.Bundles) != 1 || v.NotVerified != 1 || len(skippedLines(stderr.String(), f.forged)) != 1 {
		t.Errorf("catalog --verify %+v\n%s", v, stderr)
	}
	// A bundle pushed after the catalog was written, newer than any it
	// lists, makes it out of date only if it verifies: this one (another
	// key) was exit 3, "write it again", to every sound catalog.
	later, _ := f.pushForged(t, "2099.2.0", 4000000001, 11)
	log, stderr = logBuffer()
	v, err = mirror.Catalog(ctx, mirror.CatalogOptions{Repository: f.repo, Verify: true, Trust: trustKeys(f.a.pub), Client: client, Logger: log})
	if err != nil {
		t.Fatalf("catalog --verify after a forged root was pushed: %v", err)
	}
	if v.NotVerified != 2 || len(skippedLines(stderr.String(), later)) != 1 {
		t.Errorf("catalog --verify skipped %d roots\n%s", v.NotVerified, stderr)
	}
	// A --bundle-key that signed neither lists nothing.
	_, other := testKeys(t, "nobody")
	res, err = mirror.Catalog(ctx, mirror.CatalogOptions{Repository: f.repo, Key: f.a.priv, Password: testPass, BundleTrust: trustKeys(other), Client: client})
	if err != nil || len(res.Bundles) != 0 || res.NotVerified != 3 {
		t.Errorf("catalog --bundle-key OTHER: %v %+v", err, res)
	}
}

// forgeReplayedRoot pushes, tagged tag, a copy of the root of the bundle
// tagged version in repo with its generation annotation set to generation,
// and attaches to it a signature referrer holding the real bundle's
// envelope: a root whose envelope verifies with the signer's key, but which
// is not the root its signed manifest.json makes.
func forgeReplayedRoot(t *testing.T, repo, version, tag string, generation string) digest.Digest {
	t.Helper()
	ctx := context.Background()
	r, _, data, envelope := rootAndEnvelope(t, repo, version)
	var idx map[string]any
	if err := json.Unmarshal(data, &idx); err != nil {
		t.Fatal(err)
	}
	idx["annotations"].(map[string]any)[bundle.AnnotationGeneration] = generation
	forged, _ := json.Marshal(idx)
	fdesc := ocispec.Descriptor{MediaType: ocispec.MediaTypeImageIndex, ArtifactType: bundle.ArtifactTypeBundle, Digest: digest.FromBytes(forged), Size: int64(len(forged))}
	if err := r.PushReference(ctx, fdesc, bytes.NewReader(forged), tag); err != nil {
		t.Fatal(err)
	}
	sig, err := bundle.SignatureManifest(fdesc, envelope, fixedTime)
	if err != nil {
		t.Fatal(err)
	}
	if err := r.Push(ctx, sig.Descriptor, bytes.NewReader(sig.Bytes)); err != nil {
		t.Fatal(err)
	}
	return fdesc.Digest
}

// fetchAll fetches a manifest's bytes.
func fetchAll(ctx context.Context, r interface {
	Fetch(context.Context, ocispec.Descriptor) (io.ReadCloser, error)
}, d ocispec.Descriptor) (ocispec.Descriptor, []byte, error) {
	rc, err := r.Fetch(ctx, d)
	if err != nil {
		return d, nil, err
	}
	defer rc.Close()
	data, err := bundle.ReadAll(rc, d, bundle.MaxManifestSize)
	return d, data, err
}

// TestRollbackCheckCountsOnlyVerifiedRoots: the rollback check of import,
// push and sync read the generation "already held" from every root of the
// bundle repository. A root pushed there claiming generation 4000000000
// (signed with another key; or a copy of the real root with its
// generation raised and the real envelope attached) made every later
// import need --allow-rollback (exit 8). Now only roots whose signature
// verifies under the import's trust count: bundle B (generation 101)
// imports, each forged root is named once in a warning, and a bundle older
// than the newest verified one is still refused.
func TestRollbackCheckCountsOnlyVerifiedRoots(t *testing.T) {
	f := newForgedRepo(t)
	ctx := context.Background()
	replayed := forgeReplayedRoot(t, f.repo, "2025.10.0", "2098.1.0", "3999999999")
	_, releaseB, advisoriesB := testutil.PushSample(t, f.a.source, sample.Spec{Version: "2025.11.0", Variant: 5})
	dirB := filepath.Join(t.TempDir(), "b")
	opts := createOpts(t, releaseB, advisoriesB, dirB)
	opts.Generation = 101
	if _, err := mirror.Create(ctx, opts); err != nil {
		t.Fatal(err)
	}
	sign(t, dirB, f.a.priv)
	log, stderr := logBuffer()
	iopts := importOpts(t, dirB, f.target, f.a.pub)
	iopts.Logger = log
	res, err := mirror.Import(ctx, iopts)
	if err != nil {
		t.Fatalf("import of generation 101 over forged roots: %v", err)
	}
	if res.Generation != 101 {
		t.Errorf("imported generation %d", res.Generation)
	}
	for _, root := range []digest.Digest{f.forged, replayed} {
		if lines := skippedLines(stderr.String(), root); len(lines) != 1 || !strings.Contains(lines[0], "rollback") {
			t.Errorf("forged root %s named in %d warning lines, want 1:\n%s", root, len(lines), stderr)
		}
	}
	r, _ := testutil.Client(t).Repository(f.repo)
	if d, err := r.Resolve(ctx, "2025.11.0"); err != nil || d.Digest != res.Root {
		t.Errorf("tag 2025.11.0 in %s: %v %v, want %s", f.repo, d.Digest, err, res.Root)
	}
	// The verified newest (B, 101) still refuses an older bundle: A
	// pushed again under another tag is generation 100.
	_, err = mirror.Push(ctx, mirror.PushOptions{Now: testNow, Source: f.a.dir, Reference: f.repo + ":again", Trust: trustKeys(f.a.pub), Client: testutil.Client(t), Transfer: transferOpts()})
	if !errors.Is(err, errdef.ErrGeneration) || !strings.Contains(err.Error(), "generation 101") {
		t.Errorf("push of generation 100 over verified 101: %v", err)
	}
}

// TestDeltaOverForgedRoot: the delta path end to end with a root someone
// pushed (another key, generation 4000000000) in the far side's bundle
// repository. The inventory listed it as the newest bundle, so the near
// side's create --base made a delta on it (its generation plus one, its
// blobs left out); and a delta on the real base was refused on import as
// "a delta on ... already holds generation 4000000000" (exit 8). Now the
// inventory's newest is the real bundle, the delta made from it is on A,
// and it imports, as does a delta made on A's directory.
func TestDeltaOverForgedRoot(t *testing.T) {
	t.Parallel()
	f := newDeltaFixture(t)
	ctx := context.Background()
	fr := &forgedRepo{a: f.a, target: f.target, repo: f.target + "/" + bundle.DefaultBundleRepository}
	forged, _ := fr.pushForged(t, "2099.1.0", 4000000000, 9)
	inv, _ := f.inventory(t)
	fromInv, fromInvTar := f.create(t, inv, trustKeys(f.a.pub))
	a := readManifest(t, f.a.dir)
	m := readManifest(t, fromInv)
	if m.Base == nil || m.Base.Root == forged || m.Base.BundleID != a.BundleID || m.MirrorGeneration != a.MirrorGeneration+1 {
		t.Fatalf("delta from the inventory: base %+v, generation %d; want on %s (generation %d)", m.Base, m.MirrorGeneration, a.BundleID, a.MirrorGeneration)
	}
	_, fromDirTar := f.create(t, f.a.dir, trustKeys(f.a.pub))
	for _, tarPath := range []string{fromDirTar, fromInvTar} {
		if _, err := mirror.Import(ctx, importOpts(t, tarPath, f.target, f.a.pub)); err != nil {
			t.Fatalf("import of the delta on A over the forged root: %v", err)
		}
	}
}

// TestInventoryNamesNewerFormatRoots: a root of a newer format (a newer
// stella imported it) was left out of the inventory without a word; an
// operator reading "1 bundle" could not tell the registry held another.
// It is still left out (this stella cannot tell what it holds), but named
// on stderr as made by a newer stella, and counted.
func TestInventoryNamesNewerFormatRoots(t *testing.T) {
	ctx := context.Background()
	a := newSignedSample(t, sample.Spec{}, 100)
	target := testutil.Registry(t)
	if _, err := mirror.Import(ctx, importOpts(t, a.dir, target, a.pub)); err != nil {
		t.Fatal(err)
	}
	r, err := testutil.Client(t).Repository(target + "/" + bundle.DefaultBundleRepository)
	if err != nil {
		t.Fatal(err)
	}
	newer := []byte(`{"schemaVersion":2,"mediaType":"application/vnd.oci.image.index.v1+json","artifactType":"application/vnd.stellaops.mirror.bundle.v2+json","manifests":[]}`)
	desc := ocispec.Descriptor{MediaType: ocispec.MediaTypeImageIndex, Digest: digest.FromBytes(newer), Size: int64(len(newer))}
	if err := r.PushReference(ctx, desc, bytes.NewReader(newer), "2100.1.0"); err != nil {
		t.Fatal(err)
	}
	log, stderr := logBuffer()
	res, err := mirror.Inventory(ctx, mirror.InventoryOptions{Registry: target, Output: filepath.Join(t.TempDir(), "inventory.json"), Key: a.priv, Password: testPass,
		Trust: trustKeys(a.pub), Client: testutil.Client(t), Logger: log})
	if err != nil {
		t.Fatal(err)
	}
	if res.Bundles != 1 || res.NewerFormat != 1 || res.NotVerified != 0 {
		t.Errorf("inventory: %d bundles, %d of a newer format, %d not verified", res.Bundles, res.NewerFormat, res.NotVerified)
	}
	if lines := skippedLines(stderr.String(), desc.Digest); len(lines) != 1 || !strings.Contains(lines[0], "2100.1.0") || !strings.Contains(lines[0], "made by a newer stella") {
		t.Errorf("the newer root is named in %d lines, want 1 with its tag and \"made by a newer stella\":\n%s", len(lines), stderr)
	}
}

// TestRollbackCheckWithoutKeyNamesTheRoot: push and sync without --key
// verify nothing, so every root of the bundle repository counts in their
// rollback check, one anyone pushed too. Refused against a root pushed
// with another key (generation 4000000000), the message named only the
// generation and its release and offered --allow-rollback, which would
// let a real rollback through as well. Now it names the root, says it was
// not verified, and that --key counts only bundles its key signed; with
// --key the same push goes through.
func TestRollbackCheckWithoutKeyNamesTheRoot(t *testing.T) {
	f := newForgedRepo(t)
	ctx := context.Background()
	_, releaseB, advisoriesB := testutil.PushSample(t, f.a.source, sample.Spec{Version: "2025.11.0", Variant: 5})
	dirB := filepath.Join(t.TempDir(), "b")
	opts := createOpts(t, releaseB, advisoriesB, dirB)
	opts.Generation = 101
	if _, err := mirror.Create(ctx, opts); err != nil {
		t.Fatal(err)
	}
	sign(t, dirB, f.a.priv)
	push := mirror.PushOptions{Now: testNow, Source: dirB, Reference: f.repo, Client: testutil.Client(t), Transfer: transferOpts()}
	_, err := mirror.Push(ctx, push)
	if !errors.Is(err, errdef.ErrGeneration) || !strings.Contains(err.Error(), f.forged.String()) || !strings.Contains(err.Error(), "not verified") || !strings.Contains(err.Error(), "--key") {
		t.Errorf("push without --key over a forged root: %v; want exit 8 naming the root %s as not verified, and --key", err, f.forged)
	}
	if strings.Count(err.Error(), "\n") != 0 {
		t.Errorf("error on %d lines", strings.Count(err.Error(), "\n")+1)
	}
	push.Trust = trustKeys(f.a.pub)
	if _, err := mirror.Push(ctx, push); err != nil {
		t.Errorf("push with --key over the forged root: %v", err)
	}
}

// TestRollbackCheckVerifiesForgedRootsAtOnce: the rollback check tries
// roots newest claim first and stops at the first that verifies, so each
// root pushed by anyone claiming more than the newest real one costs it a
// verification (7 requests). It verified them one after another: a
// thousand such roots made every import wait on seven thousand round trips
// in a row. The newest claim is still tried alone (a repository nobody
// forged costs one verification), but the rest go in waves of the run's
// concurrency: here the next two forged roots' referrers are asked for
// together, and the import goes through over all three.
func TestRollbackCheckVerifiesForgedRootsAtOnce(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	a := newSignedSample(t, sample.Spec{}, 100)
	barrier := testutil.NewBarrier(2)
	target := testutil.RegistryWrapped(t, barrier.Wrap)
	if _, err := mirror.Import(ctx, importOpts(t, a.dir, target, a.pub)); err != nil {
		t.Fatal(err)
	}
	repo := target + "/" + bundle.DefaultBundleRepository
	newest := forgeReplayedRoot(t, repo, "2025.10.0", "2099.3.0", "4000000002")
	held := map[string]bool{}
	for i, gen := range []string{"4000000001", "4000000000"} {
		held[forgeReplayedRoot(t, repo, "2025.10.0", fmt.Sprintf("2099.%d.0", i+1), gen).String()] = true
	}
	barrier.Hold(func(r *http.Request) bool {
		i := strings.LastIndex(r.URL.Path, "/referrers/")
		return i >= 0 && held[r.URL.Path[i+len("/referrers/"):]]
	})
	_, releaseB, advisoriesB := testutil.PushSample(t, a.source, sample.Spec{Version: "2025.11.0", Variant: 5})
	dirB := filepath.Join(t.TempDir(), "b")
	opts := createOpts(t, releaseB, advisoriesB, dirB)
	opts.Generation = 101
	if _, err := mirror.Create(ctx, opts); err != nil {
		t.Fatal(err)
	}
	sign(t, dirB, a.priv)
	log, stderr := logBuffer()
	iopts := importOpts(t, dirB, target, a.pub)
	iopts.Logger = log
	out := make(chan error, 1)
	go func() {
		_, err := mirror.Import(ctx, iopts)
		out <- err
	}()
	if err := barrier.Wait(ctx); err != nil {
		t.Errorf("referrers of the forged roots after the newest: %v", err)
	}
	if err := <-out; err != nil {
		t.Fatalf("import of generation 101 over three forged roots: %v", err)
	}
	held[newest.String()] = true
	for root := range held {
		if !strings.Contains(stderr.String(), "skipped bundle root "+root) {
			t.Errorf("forged root %s is not named:\n%s", root, stderr)
		}
	}
}

// rootAndEnvelope reads the bundle root tagged version in repo: the
// repository, the root's descriptor and bytes, and the envelope layer of
// its signature referrer.
func rootAndEnvelope(t *testing.T, repo, version string) (*oremote.Repository, ocispec.Descriptor, []byte, ocispec.Descriptor) {
	t.Helper()
	ctx := context.Background()
	r, err := testutil.Client(t).Repository(repo)
	if err != nil {
		t.Fatal(err)
	}
	desc, rc, err := r.FetchReference(ctx, version)
	if err != nil {
		t.Fatal(err)
	}
	data, err := bundle.ReadAll(rc, desc, bundle.MaxManifestSize)
	rc.Close()
	if err != nil {
		t.Fatal(err)
	}
	var refs []ocispec.Descriptor
	if err := r.Referrers(ctx, desc, "", func(p []ocispec.Descriptor) error { refs = append(refs, p...); return nil }); err != nil {
		t.Fatal(err)
	}
	for _, ref := range refs {
		_, b, err := fetchAll(ctx, r, ref)
		if err != nil {
			t.Fatal(err)
		}
		var m ocispec.Manifest
		if json.Unmarshal(b, &m) == nil && m.ArtifactType == bundle.ArtifactTypeDSSE && len(m.Layers) == 1 {
			return r, desc, data, m.Layers[0]
		}
	}
	t.Fatalf("no signature referrer among the %d of %s", len(refs), desc.Digest)
	return nil, ocispec.Descriptor{}, nil, ocispec.Descriptor{}
}
