package mirror_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stellaops/mirror/internal/sample"
	"github.com/stellaops/mirror/internal/testutil"
	"github.com/stellaops/mirror/pkg/errdef"
	"github.com/stellaops/mirror/pkg/mirror"
)

// TestDeltaReleaseLine plays a release line: full A (generation 100), then
// deltas B on A and C on B, C reusing the images B brought. Into a registry
// holding A: C (its base B missing) is refused naming B, writing no tag and
// no advisory; B, B again (nothing to do), C; then B and A replayed are
// refused (exit 8) until --allow-rollback. The catalog lists each
// generation once, in order; --advisories-dir holds the newest set, the
// same content under two names included, and no longer the advisory A
// wrote that B withdrew (a delta lists every advisory of its release, so
// those it omits, its base's, are not taken for withdrawn).
func TestDeltaReleaseLine(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	source := testutil.Registry(t)
	priv, pub := testKeys(t, "signer")
	release := func(spec sample.Spec, adv map[string]string, base string) string {
		t.Helper()
		advDir := t.TempDir()
		for name, content := range adv {
			os.MkdirAll(filepath.Join(advDir, filepath.Dir(name)), 0o755)
			if err := os.WriteFile(filepath.Join(advDir, name), []byte(content), 0o644); err != nil {
				t.Fatal(err)
			}
		}
		_, releaseFile, _ := testutil.PushSample(t, source, spec)
		dir := filepath.Join(t.TempDir(), "bundle")
		opts := createOpts(t, releaseFile, advDir, dir)
		if opts.Base, opts.BaseTrust = base, trustKeys(pub); base == "" {
			opts.Generation, opts.BaseTrust = 100, mirror.TrustOptions{}
		}
		if _, err := mirror.Create(ctx, opts); err != nil {
			t.Fatal(err)
		}
		sign(t, dir, priv)
		return dir
	}
	advB := map[string]string{"nvd/a.json": `{"a":1}`, "osv/x.json": `{"x":2}`, "osv/y.json": `{"a":1}`}
	a := release(sample.Spec{}, map[string]string{"nvd/a.json": `{"a":1}`, "nvd/b.json": `{"b":1}`, "osv/x.json": `{"x":1}`}, "")
	b := release(sample.Spec{Variant: 5, Version: "2025.11.0"}, advB, a)
	c := release(sample.Spec{Variant: 5, Version: "2025.12.0"}, advB, b)

	target := testutil.Distribution(t)
	advDir := t.TempDir()
	imp := func(src string, allowRollback bool) error {
		opts := importOpts(t, src, target, pub)
		opts.AdvisoriesDir, opts.AllowRollback = advDir, allowRollback
		opts.CatalogKey, opts.CatalogPassword = priv, testPass
		_, err := mirror.Import(ctx, opts)
		return err
	}
	if err := imp(a, false); err != nil {
		t.Fatal(err)
	}
	before, advBefore := testutil.Tags(t, target), readTree(t, advDir)
	err := imp(c, false)
	if !errors.Is(err, errdef.ErrMalformed) || !strings.Contains(err.Error(), readManifest(t, b).BundleID) || !strings.Contains(err.Error(), "import the base first") {
		t.Fatalf("C onto A, its base B missing: %v", err)
	}
	if after := testutil.Tags(t, target); fmt.Sprint(after) != fmt.Sprint(before) {
		t.Errorf("refused C changed the tags: %v, then %v", before, after)
	}
	if after := readTree(t, advDir); fmt.Sprint(after) != fmt.Sprint(advBefore) {
		t.Errorf("refused C changed --advisories-dir: %v, then %v", advBefore, after)
	}
	for _, src := range []string{b, b, c} {
		if err := imp(src, false); err != nil {
			t.Fatalf("import %s: %v", readManifest(t, src).BundleID, err)
		}
	}
	// C's set: A's nvd/b.json, which B withdrew, is gone.
	want := map[string]string{"nvd/a.json": `{"a":1}`, "osv/x.json": `{"x":2}`, "osv/y.json": `{"a":1}`}
	if got := advisoriesIn(t, advDir); fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("--advisories-dir after A, B, C holds %v, want %v", got, want)
	}
	for _, src := range []string{b, a} {
		if err := imp(src, false); !errors.Is(err, errdef.ErrGeneration) {
			t.Errorf("replay of %s after C: %v, want exit 8", readManifest(t, src).BundleID, err)
		}
	}
	if err := imp(a, true); err != nil {
		t.Errorf("A with --allow-rollback: %v", err)
	}
	res, err := mirror.Catalog(ctx, mirror.CatalogOptions{Repository: target + "/stellaops/mirror-bundle", Verify: true, Trust: trustKeys(pub), Client: testutil.Client(t)})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, e := range res.Bundles {
		got = append(got, fmt.Sprintf("%s@%d", e.Version, e.Generation))
	}
	if want := "2025.10.0@100 2025.11.0@101 2025.12.0@102"; strings.Join(got, " ") != want {
		t.Errorf("catalog %v, want %s", got, want)
	}
}

// readTree reads every file under dir, by slash path.
func readTree(t *testing.T, dir string) map[string]string {
	t.Helper()
	out := map[string]string{}
	err := filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		data, err := os.ReadFile(p)
		rel, _ := filepath.Rel(dir, p)
		out[filepath.ToSlash(rel)] = string(data)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}
