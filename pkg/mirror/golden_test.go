package mirror_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/opencontainers/go-digest"

	"github.com/stellaops/mirror/internal/golden"
	"github.com/stellaops/mirror/internal/testutil"
	"github.com/stellaops/mirror/pkg/bundle"
	"github.com/stellaops/mirror/pkg/layout"
	"github.com/stellaops/mirror/pkg/mirror"
)

// TestGoldenBundles reads every bundle an earlier stella made
// (testdata/bundles/vN, testdata/README.md) with this one: each verifies
// with its key or trust root at a time inside its validity, inspects,
// imports into a real registry with exactly its root, images and tags,
// serves a blob; the delta imports over its base; the split set's volumes
// check against their signed list; the far side's signed inventory is the
// base of a delta this stella makes, which imports over the old bundle. Every check that rebuilds bytes from
// manifest.json (the root index, the metadata manifest, the signature
// referrer, manifest.json's canonical form, SHA256SUMS) is pinned here: a
// change to how create or sign builds them fails this test before it
// reaches a far side that holds bundles made before it.
func TestGoldenBundles(t *testing.T) {
	gens, err := golden.Generations(filepath.Join(testutil.ModuleRoot(t), "testdata", "bundles"))
	if err != nil {
		t.Fatal(err)
	}
	if len(gens) == 0 {
		t.Fatal("no generation of golden bundles under testdata/bundles")
	}
	for _, dir := range gens {
		t.Run(filepath.Base(dir), func(t *testing.T) {
			t.Parallel()
			g, err := golden.Load(dir)
			if err != nil {
				t.Fatal(err)
			}
			for _, b := range g.Bundles {
				t.Run(b.Name, func(t *testing.T) { checkGolden(t, dir, g, &b) })
			}
			if g.Inventory != nil {
				t.Run("inventory", func(t *testing.T) { checkGoldenInventory(t, dir, g) })
			}
			if g.Catalog != nil {
				t.Run("catalog", func(t *testing.T) { checkGoldenCatalog(t, dir, g) })
			}
		})
	}
}

// goldenReader is what a golden check needs to say who broke what.
type goldenReader struct {
	t   *testing.T
	dir string
	g   *golden.Generation
	b   *golden.Bundle
}

// broke fails the test with what a developer must do about it.
func (r goldenReader) broke(form, op string, err error) {
	r.t.Helper()
	r.t.Errorf("%s %s/%s: %v\nbundles made by stella %s (schemaVersion %d) no longer %s: the format changed; keep reading the old form, "+
		"or bump schemaVersion and keep the old reader (testdata/README.md); never regenerate %s",
		op, filepath.Base(r.dir), form, err, r.g.Commit, r.g.SchemaVersion, op, filepath.Base(r.dir))
}

func (r goldenReader) trust() mirror.TrustOptions {
	tr := mirror.TrustOptions{Now: r.g.Now}
	if r.b.Key != "" {
		tr.Keys = []string{filepath.Join(r.dir, r.b.Key)}
	}
	if r.b.TrustRoot != "" {
		tr.TrustRoots = []string{filepath.Join(r.dir, r.b.TrustRoot)}
	}
	return tr
}

func checkGolden(t *testing.T, dir string, g *golden.Generation, b *golden.Bundle) {
	ctx := context.Background()
	r := goldenReader{t: t, dir: dir, g: g, b: b}
	for _, form := range b.Forms {
		path := filepath.Join(dir, form)
		if layout.IsVolumeList(path) {
			vol := mirror.TrustOptions{Keys: []string{filepath.Join(dir, b.VolumeKey)}, Now: g.Now}
			if _, err := mirror.VerifyVolumes(ctx, path, vol, 2); err != nil {
				r.broke(form, "check their volumes", err)
			}
		}
		if st, err := os.Stat(path); err == nil && st.IsDir() {
			if _, err := mirror.VerifyChecksums(ctx, mirror.ChecksumsOptions{Dir: path, Trust: r.trust()}); err != nil {
				r.broke(form, "pass verify-checksums", err)
			}
		}
		res, err := mirror.Verify(ctx, mirror.VerifyOptions{Envelope: path, Trust: r.trust(), Now: g.Now})
		if err != nil {
			r.broke(form, "verify", err)
			continue
		}
		if res.Root != b.Root {
			r.broke(form, "verify", fmt.Errorf("root %s, golden.json says %s", res.Root, b.Root))
		}
		ins, err := mirror.InspectWith(ctx, mirror.InspectOptions{Source: path, Trust: r.trust(), Now: g.Now})
		if err != nil {
			r.broke(form, "inspect", err)
		} else if ins.Root != b.Root || ins.BundleID != b.BundleID || ins.Version != b.Version || ins.Generation != b.Generation || ins.Expired {
			r.broke(form, "inspect", fmt.Errorf("root %s, id %s, version %s, generation %d, expired %v; golden.json says %s, %s, %s, %d",
				ins.Root, ins.BundleID, ins.Version, ins.Generation, ins.Expired, b.Root, b.BundleID, b.Version, b.Generation))
		}
		r.imports(form)
		r.serves(form)
	}
}

// imports imports the form into a fresh in-process registry (over its
// base, for a delta) and checks the registry holds exactly the bundle's
// root, images and tags.
func (r goldenReader) imports(form string) {
	t := r.t
	ctx := context.Background()
	host := testutil.Registry(t)
	bundles := []*golden.Bundle{r.b}
	if r.b.Base != "" {
		base := r.g.Find(r.b.Base)
		if base == nil {
			t.Fatalf("golden.json: %s's base %s is not in the generation", r.b.Name, r.b.Base)
		}
		br := goldenReader{t: t, dir: r.dir, g: r.g, b: base}
		if _, err := mirror.Import(ctx, br.importOpts(t, base.Forms[0], host)); err != nil {
			br.broke(base.Forms[0], "import", err)
			return
		}
		bundles = []*golden.Bundle{base, r.b}
	}
	res, err := mirror.Import(ctx, r.importOpts(t, form, host))
	if err != nil {
		r.broke(form, "import", err)
		return
	}
	if res.Root != r.b.Root {
		r.broke(form, "import", fmt.Errorf("imported root %s, golden.json says %s", res.Root, r.b.Root))
	}
	r.holds(form, "import", host, bundles)
	// Read back from the registry: the root, metadata manifest and
	// signature referrer there are the old bundle's own bytes.
	ref := host + "/" + bundle.DefaultBundleRepository + ":" + r.b.Version
	ins, err := mirror.InspectWith(ctx, mirror.InspectOptions{Source: ref, Trust: r.trust(), Now: r.g.Now, Client: testutil.Client(t)})
	if err != nil {
		r.broke(form, "read back from a registry (inspect "+ref+")", err)
	} else if ins.Root != r.b.Root || len(ins.Signers) == 0 {
		r.broke(form, "read back from a registry (inspect "+ref+")", fmt.Errorf("root %s, %d signers; golden.json says %s", ins.Root, len(ins.Signers), r.b.Root))
	}
}

// holds checks that the registry at host holds every tag the bundles
// name, each on its digest, and no other but the referrers fallback tags
// (sha256-<hex>) of a registry without the referrers API.
func (r goldenReader) holds(form, op, host string, bundles []*golden.Bundle) {
	t := r.t
	ctx := context.Background()
	want := map[string]map[string]digest.Digest{}
	put := func(repo, tag string, dg digest.Digest) {
		if want[repo] == nil {
			want[repo] = map[string]digest.Digest{}
		}
		want[repo][tag] = dg
	}
	for _, b := range bundles {
		put(bundle.DefaultBundleRepository, b.Version, b.Root)
		for _, img := range b.Images {
			for _, tag := range img.Tags {
				put(img.Repository, tag, img.Digest)
			}
		}
	}
	got := testutil.Tags(t, host)
	for repo, tags := range got {
		tags = slices.DeleteFunc(tags, isFallbackTag)
		var wantTags []string
		for tag := range want[repo] {
			wantTags = append(wantTags, tag)
		}
		sort.Strings(wantTags)
		slices.Sort(tags)
		if !slices.Equal(tags, wantTags) {
			r.broke(form, op, fmt.Errorf("repository %s holds tags %v, want %v", repo, tags, wantTags))
		}
	}
	client := testutil.Client(t)
	for repo, tags := range want {
		if _, ok := got[repo]; !ok {
			r.broke(form, op, fmt.Errorf("repository %s is missing from the registry", repo))
			continue
		}
		dst, err := client.Repository(host + "/" + repo)
		if err != nil {
			t.Fatal(err)
		}
		for tag, dg := range tags {
			d, err := dst.Resolve(ctx, tag)
			if err != nil || d.Digest != dg {
				r.broke(form, op, fmt.Errorf("%s:%s resolves to %s (%v), want %s", repo, tag, d.Digest, err, dg))
			}
		}
	}
}

func (r goldenReader) importOpts(t *testing.T, form, host string) mirror.ImportOptions {
	return mirror.ImportOptions{Source: filepath.Join(r.dir, form), Registry: host, Trust: r.trust(),
		Now: r.g.Now, Client: testutil.Client(t), Transfer: transferOpts()}
}

// checkGoldenInventory makes, with this stella, a delta of the next
// release against the far side's inventory an earlier stella signed, and
// imports it over the bundle the inventory lists: the far side upgrades
// last, so its inventories are the oldest documents the connected side
// reads.
func checkGoldenInventory(t *testing.T, dir string, g *golden.Generation) {
	ctx := context.Background()
	inv := g.Inventory
	base := g.Find(inv.Base)
	if base == nil {
		t.Fatalf("golden.json: the inventory's base %s is not in the generation", inv.Base)
	}
	r := goldenReader{t: t, dir: dir, g: g, b: base}
	source := testutil.Registry(t)
	_, releaseFile, advisories := testutil.PushSample(t, source, inv.Next)
	out := filepath.Join(t.TempDir(), "delta")
	opts := createOpts(t, releaseFile, advisories, out)
	opts.Created = g.Now.Add(24 * time.Hour)
	opts.Base, opts.BaseTrust = filepath.Join(dir, inv.Path), mirror.TrustOptions{Keys: []string{filepath.Join(dir, inv.Key)}, Now: g.Now}
	res, err := mirror.Create(ctx, opts)
	if err != nil {
		r.broke(inv.Path, "serve as create --base", err)
		return
	}
	if m := res.Manifest; m.Base == nil || m.Base.Root != base.Root || len(m.Base.Omitted) == 0 {
		r.broke(inv.Path, "serve as create --base", fmt.Errorf("the delta's base is %+v, want root %s with blobs omitted", m.Base, base.Root))
		return
	}
	priv, pub := testKeys(t, "delta")
	sign(t, out, priv)
	host := testutil.Registry(t)
	if _, err := mirror.Import(ctx, r.importOpts(t, base.Forms[0], host)); err != nil {
		r.broke(base.Forms[0], "import", err)
		return
	}
	imp, err := mirror.Import(ctx, mirror.ImportOptions{Source: out, Registry: host, Trust: trustKeys(pub),
		Now: opts.Created.Add(time.Hour), Client: testutil.Client(t), Transfer: transferOpts()})
	if err != nil {
		r.broke(inv.Path, "take a delta made from their inventory", err)
		return
	}
	next := &golden.Bundle{Version: res.Manifest.Release.Version, Root: imp.Root}
	for _, img := range res.Manifest.Images {
		next.Images = append(next.Images, golden.Image{Repository: img.Repository, Digest: img.Digest, Tags: img.Tags})
	}
	r.holds(inv.Path, "take a delta made from their inventory", host, []*golden.Bundle{base, next})
}

// serves serves the form, when serve takes it (a directory, a plain tar,
// and their volume sets), and pulls the golden blob from it.
func (r goldenReader) serves(form string) {
	path := filepath.Join(r.dir, form)
	if r.b.Base != "" || strings.HasSuffix(strings.TrimSuffix(form, layout.VolumesSuffix), ".gz") {
		return // a delta lacks its base's blobs; serve does not read gzip
	}
	served, err := mirror.OpenServed(context.Background(), mirror.ServeOptions{Path: path, Trust: r.trust(), Now: r.g.Now})
	if err != nil {
		r.broke(form, "serve", err)
		return
	}
	defer served.Close()
	host := serveContent(r.t, served)
	data, err := getBlob(host, r.b.Blob.Repository, r.b.Blob.Digest)
	if err != nil || digest.FromBytes(data) != r.b.Blob.Digest || int64(len(data)) != r.b.Blob.Size {
		r.broke(form, "serve", fmt.Errorf("GET %s blob %s: %d bytes (%v)", r.b.Blob.Repository, r.b.Blob.Digest, len(data), err))
	}
}

// maxGeneration bounds a generation's bytes: golden bundles are committed,
// and a clone carries every generation for ever.
const maxGeneration = 1 << 20

// TestGoldenGenerationsSmall: every generation stays under a megabyte.
func TestGoldenGenerationsSmall(t *testing.T) {
	gens, err := golden.Generations(filepath.Join(testutil.ModuleRoot(t), "testdata", "bundles"))
	if err != nil {
		t.Fatal(err)
	}
	for _, dir := range gens {
		var total int64
		err := filepath.Walk(dir, func(_ string, info os.FileInfo, err error) error {
			if err == nil && info.Mode().IsRegular() {
				total += info.Size()
			}
			return err
		})
		if err != nil || total > maxGeneration {
			t.Errorf("%s: %d bytes (%v), over the %d a generation may take: shrink the sample (internal/golden)", dir, total, err, maxGeneration)
		}
	}
}

// TestGoldenGenerator: the generator a developer runs for the next
// generation (go run ./internal/cmd/golden) makes one that this stella
// reads as the committed ones, and never writes over an existing one.
func TestGoldenGenerator(t *testing.T) {
	t.Parallel()
	if testing.Short() {
		t.Skip("creates and signs four bundles")
	}
	out := filepath.Join(t.TempDir(), "v1")
	g, err := golden.Generate(context.Background(), golden.Options{Out: out, Commit: "test"})
	if err != nil {
		t.Fatal(err)
	}
	for _, b := range g.Bundles {
		t.Run(b.Name, func(t *testing.T) { checkGolden(t, out, g, &b) })
	}
	if g.Inventory == nil {
		t.Fatal("the generation has no inventory")
	}
	t.Run("inventory", func(t *testing.T) { checkGoldenInventory(t, out, g) })
	if g.Catalog == nil {
		t.Fatal("the generation has no catalog")
	}
	t.Run("catalog", func(t *testing.T) { checkGoldenCatalog(t, out, g) })
	before, _ := os.ReadFile(filepath.Join(out, golden.File))
	if _, err := golden.Generate(context.Background(), golden.Options{Out: out, Commit: "again"}); err == nil || !strings.Contains(err.Error(), "exists") {
		t.Errorf("a second Generate into %s: %v, want it refused", out, err)
	}
	if after, _ := os.ReadFile(filepath.Join(out, golden.File)); string(after) != string(before) {
		t.Error("a refused Generate changed the generation")
	}
}

// TestGoldenCoversCurrentFormat: the newest generation is of the format
// this stella writes, so that a change of format (a schemaVersion bump)
// comes with golden bundles of the new one, which every later build must
// read too.
func TestGoldenCoversCurrentFormat(t *testing.T) {
	gens, err := golden.Generations(filepath.Join(testutil.ModuleRoot(t), "testdata", "bundles"))
	if err != nil || len(gens) == 0 {
		t.Fatalf("no golden generation (%v)", err)
	}
	newest, err := golden.Load(gens[len(gens)-1])
	if err != nil {
		t.Fatal(err)
	}
	if newest.SchemaVersion != bundle.SchemaVersion {
		t.Errorf("this stella writes manifest.json schemaVersion %d, the newest golden generation (%s) holds %d: "+
			"make a generation of the new format, go run ./internal/cmd/golden -out testdata/bundles/v%d (testdata/README.md)",
			bundle.SchemaVersion, filepath.Base(gens[len(gens)-1]), newest.SchemaVersion, len(gens)+1)
	}
}

// isFallbackTag reports whether tag is a referrers fallback tag,
// sha256-<hex> (a cosign tag has a suffix: .sig, .att, .sbom).
func isFallbackTag(tag string) bool {
	hex, ok := strings.CutPrefix(tag, "sha256-")
	return ok && digest.Digest("sha256:"+hex).Validate() == nil
}
