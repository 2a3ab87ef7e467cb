package mirror_test

import (
	"archive/tar"
	"compress/gzip"
	"context"
	"encoding/json"
	"io"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/stellaops/mirror/internal/golden"
	"github.com/stellaops/mirror/internal/testutil"
)

// TestGoldenWriterKeepsFormat: what this stella writes at the newest golden
// generation's schemaVersion has the fields that generation's documents
// have, no more, no fewer: manifest.json of each bundle, the volume list,
// the inventory. A stella of that generation decodes them strictly, so a
// field a writer adds without a schemaVersion bump makes every bundle it
// writes "malformed" on a far side that has not upgraded, and no test
// said so: TestGoldenBundles reads old bundles with the new reader, never
// new bundles with the old one.
func TestGoldenWriterKeepsFormat(t *testing.T) {
	t.Parallel()
	if testing.Short() {
		t.Skip("creates and signs four bundles")
	}
	gens, err := golden.Generations(filepath.Join(testutil.ModuleRoot(t), "testdata", "bundles"))
	if err != nil || len(gens) == 0 {
		t.Fatalf("no golden generation (%v)", err)
	}
	oldDir := gens[len(gens)-1]
	old, err := golden.Load(oldDir)
	if err != nil {
		t.Fatal(err)
	}
	newDir := filepath.Join(t.TempDir(), "new")
	fresh, err := golden.Generate(context.Background(), golden.Options{Out: newDir, Commit: "test"})
	if err != nil {
		t.Fatal(err)
	}
	if fresh.SchemaVersion != old.SchemaVersion {
		t.Skipf("a new format (schemaVersion %d): TestGoldenCoversCurrentFormat asks for its generation", fresh.SchemaVersion)
	}
	compared := 0
	compare := func(what string, oldData, newData []byte) {
		t.Helper()
		was, is := fieldsOf(t, oldData), fieldsOf(t, newData)
		added, dropped := missing(is, was), missing(was, is)
		if len(added) > 0 || len(dropped) > 0 {
			t.Errorf("%s: this stella writes fields %v that stella %s (%s) does not know, and leaves out %v that it has: "+
				"a stella of that generation refuses what this one writes; bump the schemaVersion and make a generation of the new format (testdata/README.md)",
				what, added, old.Commit, filepath.Base(oldDir), dropped)
		}
		compared++
	}
	for _, nb := range fresh.Bundles {
		i := slices.IndexFunc(old.Bundles, func(b golden.Bundle) bool { return b.Name == nb.Name })
		if i < 0 {
			continue
		}
		ob := old.Bundles[i]
		for _, form := range nb.Forms {
			if !slices.Contains(ob.Forms, form) {
				continue
			}
			if strings.HasSuffix(form, ".volumes.json") {
				compare(nb.Name+" "+form, readFile(t, filepath.Join(oldDir, form)), readFile(t, filepath.Join(newDir, form)))
				continue
			}
			if o, n := headFile(t, filepath.Join(oldDir, form), "manifest.json"), headFile(t, filepath.Join(newDir, form), "manifest.json"); o != nil && n != nil {
				compare(nb.Name+" "+form+" manifest.json", o, n)
			}
		}
	}
	if old.Inventory != nil && fresh.Inventory != nil {
		compare("inventory", readFile(t, filepath.Join(oldDir, old.Inventory.Path)), readFile(t, filepath.Join(newDir, fresh.Inventory.Path)))
	}
	if compared < 4 {
		t.Errorf("compared %d documents of the two generations, want manifest.json of full, delta and cert, the volume list and the inventory", compared)
	}
}

// headFile reads the file name of a bundle directory, a .tar or a .tar.gz;
// nil for another form.
func headFile(t *testing.T, path, name string) []byte {
	t.Helper()
	if st, err := os.Stat(path); err == nil && st.IsDir() {
		return readFile(t, filepath.Join(path, name))
	}
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var r io.Reader = f
	switch {
	case strings.HasSuffix(path, ".tar.gz"):
		gz, err := gzip.NewReader(f)
		if err != nil {
			t.Fatal(err)
		}
		r = gz
	case !strings.HasSuffix(path, ".tar"):
		return nil
	}
	tr := tar.NewReader(r)
	for {
		h, err := tr.Next()
		if err != nil {
			t.Fatalf("%s: no %s (%v)", path, name, err)
		}
		if h.Name == name {
			data, err := io.ReadAll(tr)
			if err != nil {
				t.Fatal(err)
			}
			return data
		}
	}
}

// fieldsOf lists the field paths of a JSON document ("release.version",
// "images[].platforms[].digest"); a map keyed by data (repositories of an
// inventory) is one field "repositories{}".
func fieldsOf(t *testing.T, data []byte) []string {
	t.Helper()
	var doc any
	if err := json.Unmarshal(data, &doc); err != nil {
		t.Fatal(err)
	}
	set := map[string]bool{}
	var walk func(prefix string, v any)
	walk = func(prefix string, v any) {
		switch v := v.(type) {
		case map[string]any:
			for k, e := range v {
				key := prefix + "." + k
				if dataKeyed(prefix) {
					key = prefix + "{}"
				}
				set[strings.TrimPrefix(key, ".")] = true
				walk(key, e)
			}
		case []any:
			for _, e := range v {
				walk(prefix+"[]", e)
			}
		}
	}
	walk("", doc)
	fields := make([]string, 0, len(set))
	for f := range set {
		fields = append(fields, f)
	}
	sort.Strings(fields)
	return fields
}

// dataKeyed reports whether the object at prefix is keyed by data, not
// by field names.
func dataKeyed(prefix string) bool {
	return strings.HasSuffix(prefix, ".repositories") || strings.HasSuffix(prefix, ".annotations")
}

// missing returns what of a is not in b.
func missing(a, b []string) []string {
	var out []string
	for _, s := range a {
		if !slices.Contains(b, s) {
			out = append(out, s)
		}
	}
	return out
}
