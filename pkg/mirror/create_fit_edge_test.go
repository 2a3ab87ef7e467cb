package mirror_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/opencontainers/go-digest"

	"github.com/stellaops/mirror/internal/testutil"
	"github.com/stellaops/mirror/pkg/bundle"
	"github.com/stellaops/mirror/pkg/errdef"
	"github.com/stellaops/mirror/pkg/mirror"
)

// TestCreateRefusesAtTheEdgeBeforeFetchingLayers: a release whose
// manifest.json passes the signed bound by less than its single-platform
// images' platforms (read from their configs) and the bundle's own files
// (scripts, docs) take, was passed by the up-front fit, which left those
// out, and refused by the writer once every layer was fetched. The fit now
// counts manifest.json as the writer writes it (the advisories' sizes
// too), and refuses it before a single layer is fetched, naming the very
// size the writer would have written. A release just within the bound,
// whose likely platforms (the guess that spares the configs' reads far
// from the bound) would pass it, is still written.
func TestCreateRefusesAtTheEdgeBeforeFetchingLayers(t *testing.T) {
	t.Parallel()
	const images = 24
	layers := map[string]bool{}
	var layerGets, blobGets atomic.Int64
	src := testutil.RegistryWrapped(t, func(h http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.Method == http.MethodGet && strings.Contains(r.URL.Path, "/blobs/sha256:") {
				blobGets.Add(1)
			}
			if r.Method == http.MethodGet && layers[path.Base(r.URL.Path)] {
				layerGets.Add(1)
			}
			h.ServeHTTP(w, r)
		})
	})
	refs := map[string]digest.Digest{}
	for i := range images {
		r := rawRepo{t, src, fmt.Sprintf("app/edge-%02d", i)}
		seed := fmt.Sprint("edge", i)
		refs[r.name] = r.image(seed, "", nil).Digest
		layers[digest.FromString("layer "+seed).String()] = true
	}
	rel := releaseOf(t, src, refs)

	// Advisory files of long paths fill manifest.json up to the edge.
	advisories := filepath.Join(t.TempDir(), "advisories")
	deep := filepath.Join(advisories, "feed", strings.Repeat("d", 200), strings.Repeat("e", 200), strings.Repeat("f", 200))
	if err := os.MkdirAll(deep, 0o755); err != nil {
		t.Fatal(err)
	}
	// Of 100 bytes: manifest.json gives each its size in 3 digits.
	advisory := []byte(`{"p":"` + strings.Repeat("x", 92) + `"}`)
	files := 0
	add := func(n, nameLen int) {
		t.Helper()
		for range n {
			name := fmt.Sprintf("%0*d", nameLen, files)
			files++
			if err := os.WriteFile(filepath.Join(deep, name), advisory, 0o644); err != nil {
				t.Fatal(err)
			}
		}
	}
	const nameLen = 40
	create := func() (string, error) {
		out := filepath.Join(t.TempDir(), "bundle")
		opts := createOpts(t, rel, advisories, out)
		opts.Version = "2025.10.0"
		_, err := mirror.Create(context.Background(), opts)
		return out, err
	}
	size := func() (int, []byte) {
		t.Helper()
		out, err := create()
		if err != nil {
			t.Fatal(err)
		}
		data := readFile(t, filepath.Join(out, "manifest.json"))
		return len(data), data
	}
	add(2000, nameLen)
	before, data := size()
	add(1, nameLen)
	after, _ := size()
	entry := after - before

	// What the platforms take: manifest.json without them.
	var m map[string]any
	if err := json.Unmarshal(data, &m); err != nil {
		t.Fatal(err)
	}
	for _, img := range m["images"].([]any) {
		if _, ok := img.(map[string]any)["platforms"]; !ok {
			t.Fatalf("image %v has no platforms", img)
		}
		delete(img.(map[string]any), "platforms")
	}
	bare, err := json.MarshalIndent(m, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	platforms := len(data) - len(bare) - 1 // the trailing newline
	if platforms <= 0 {
		t.Fatalf("platforms take %d bytes", platforms)
	}

	// Just within the bound: a likely platform in place of each real one
	// would pass it, the real ones do not. The release is written whole.
	fits := bundle.MaxManifestJSONSize - 8
	need := fits - after
	// Whole entries, then four whose longer names take the rest (less
	// than one entry: a name takes at most 255 bytes).
	k := need/entry - 4
	add(k, nameLen)
	rest := need - (k+4)*entry
	add(1, nameLen+rest/4+rest%4)
	add(3, nameLen+rest/4)
	if got, _ := size(); got != fits {
		t.Fatalf("manifest.json of %d bytes, want %d", got, fits)
	}

	// Over the bound by half of what the platforms take: four names of
	// the first files longer.
	target := bundle.MaxManifestJSONSize + platforms/2
	more := target - fits
	for i := range 4 {
		longer := nameLen + more/4
		if i == 0 {
			longer += more % 4
		}
		if err := os.Rename(filepath.Join(deep, fmt.Sprintf("%0*d", nameLen, i)), filepath.Join(deep, fmt.Sprintf("%0*d", longer, i))); err != nil {
			t.Fatal(err)
		}
	}

	layerGets.Store(0)
	blobGets.Store(0)
	out, err := create()
	if !errors.Is(err, errdef.ErrUsage) || !strings.Contains(err.Error(), "release too large for one bundle") {
		t.Fatalf("err = %v, want the release refused as too large", err)
	}
	if got := writtenSize(err); got != target {
		t.Errorf("refused at %d bytes of manifest.json, want %d (what the writer writes): %v", got, target, err)
	}
	if n := layerGets.Load(); n != 0 {
		t.Errorf("%d layers fetched before the refusal, want none", n)
	}
	// The platforms are in the configs: one each, a few hundred bytes,
	// read since the release is at the edge.
	if n := blobGets.Load(); n > images {
		t.Errorf("%d blobs fetched before the refusal, want no more than the %d configs", n, images)
	}
	if _, err := os.Lstat(out); !os.IsNotExist(err) {
		t.Errorf("%s left behind: %v", out, err)
	}
}

// writtenSize is the size of manifest.json a refusal names; 0 if none.
func writtenSize(err error) int {
	m := regexp.MustCompile(`manifest\.json would be (?:over )?(\d+) bytes`).FindStringSubmatch(err.Error())
	if m == nil {
		return 0
	}
	n, _ := strconv.Atoi(m[1])
	return n
}
