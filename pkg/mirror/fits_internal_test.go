package mirror

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"testing"

	specs "github.com/opencontainers/image-spec/specs-go"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	"oras.land/oras-go/v2/content"
	"oras.land/oras-go/v2/content/memory"

	"github.com/stellaops/mirror/pkg/bundle"
	"github.com/stellaops/mirror/pkg/errdef"
	"github.com/stellaops/mirror/pkg/layout"
	"github.com/stellaops/mirror/pkg/release"
	"github.com/stellaops/mirror/pkg/transfer"
)

// Manifests that stay under the bound by themselves, but not with
// manifest.json and SHA256SUMS, which a packed bundle's head holds too,
// are refused before any blob is fetched.
func TestReleaseFitCountsTheWholeHead(t *testing.T) {
	f := releaseFit{file: "release.yaml", blobs: 1, docBytes: layout.MaxHeadBytes - 100}
	err := f.check()
	if !errors.Is(err, errdef.ErrUsage) || !strings.Contains(err.Error(), "release.yaml: its manifests") {
		t.Fatalf("err = %v, want a usage error naming the release and its manifests", err)
	}
	f.docBytes = layout.MaxHeadBytes - 64<<10
	if err := f.check(); err != nil {
		t.Fatalf("a head with room left: %v", err)
	}
}

// releaseOf parses a plain release file of n images, under names of a
// common length, as create reads it.
func releaseOf(t *testing.T, n int) []bundle.Image {
	return releaseNamed(t, n, "registry.example.com/stellaops/component-%05d")
}

// releaseNamed parses a plain release file of n images named by format
// (with the image's number), as create reads it.
func releaseNamed(t *testing.T, n int, format string) []bundle.Image {
	t.Helper()
	var b strings.Builder
	for i := range n {
		fmt.Fprintf(&b, format+"@sha256:%064x\n", i, i)
	}
	rel, err := release.Parse("release.txt", []byte(b.String()))
	if err != nil {
		t.Fatal(err)
	}
	return releaseImages(rel, "2025.10.0")
}

// A release over MaxImages is refused by its count, from the release file
// alone (no request, no blob), in one line naming the file, the count, the
// limit and how to split it; one of MaxImages lean images passes.
func TestReleaseFitRefusesOverMaxImages(t *testing.T) {
	n := bundle.MaxImages + 1000
	err := releaseFit{file: "release.txt", images: releaseOf(t, n)}.check()
	want := fmt.Sprintf("release too large for one bundle: release.txt names %d images, over the %d one bundle may hold: split the release into 2 bundles or more",
		n, bundle.MaxImages)
	if !errors.Is(err, errdef.ErrUsage) || !strings.HasPrefix(err.Error(), want) || strings.Contains(err.Error(), "\n") {
		t.Fatalf("err = %v\nwant a usage error, one line, starting %q", err, want)
	}
	if err := (releaseFit{file: "release.txt", images: releaseNamed(t, bundle.MaxImages, "r/a%d")}).check(); err != nil {
		t.Errorf("a release of MaxImages images: %v", err)
	}
}

// Images within MaxImages whose entries are larger than it allows for (many
// referrers each) are refused by manifest.json's bytes once resolved, still
// before any blob: the refusal says how many of them would fit, and says
// nothing of advisories the release does not have.
func TestResolvedFitSaysHowManyFit(t *testing.T) {
	images := releaseOf(t, bundle.MaxImages)
	for i := range images {
		for range 8 {
			images[i].Referrers = append(images[i].Referrers, bundle.Referrer{Digest: placeholderDigest, MediaType: ocispec.MediaTypeImageManifest,
				ArtifactType: "application/vnd.dev.cosign.artifact.sig.v1+json", Size: 1234, Subject: placeholderDigest})
		}
	}
	err := releaseFit{file: "release.txt", images: images}.check()
	if !errors.Is(err, errdef.ErrUsage) || !strings.Contains(err.Error(), "release.txt: its manifest.json would be over") ||
		!strings.Contains(err.Error(), "split the release: about ") || !strings.Contains(err.Error(), " of these images fit one bundle") {
		t.Fatalf("err = %v, want a usage error saying how many of these images fit", err)
	}
	if strings.Contains(err.Error(), "carry the advisories") {
		t.Errorf("err = %v: the release has no advisories", err)
	}
}

// The platforms an index names are in its image's entry as the resolved
// fit counts it, as in the manifest.json create writes: a release of many
// multi-platform images used to pass the fit without them, and fail once
// every blob was fetched.
func TestResolvedFitCountsIndexPlatforms(t *testing.T) {
	ctx := context.Background()
	store := memory.New()
	push := func(mediaType string, v any) ocispec.Descriptor {
		data, err := json.Marshal(v)
		if err != nil {
			t.Fatal(err)
		}
		desc := content.NewDescriptorFromBytes(mediaType, data)
		if err := store.Push(ctx, desc, bytes.NewReader(data)); err != nil {
			t.Fatal(err)
		}
		return desc
	}
	want := []string{"linux/amd64", "linux/arm64", "linux/arm/v7", "linux/ppc64le"}
	idx := ocispec.Index{Versioned: specs.Versioned{SchemaVersion: 2}, MediaType: ocispec.MediaTypeImageIndex}
	for i, p := range want {
		layer := content.NewDescriptorFromBytes(ocispec.MediaTypeImageLayer, []byte(p))
		m := push(ocispec.MediaTypeImageManifest, ocispec.Manifest{Versioned: specs.Versioned{SchemaVersion: 2}, MediaType: ocispec.MediaTypeImageManifest,
			Config: bundle.EmptyConfig, Layers: []ocispec.Descriptor{layer}, Annotations: map[string]string{"i": fmt.Sprint(i)}})
		plat, err := ParsePlatform(p)
		if err != nil {
			t.Fatal(err)
		}
		m.Platform = &plat
		idx.Manifests = append(idx.Manifests, m)
	}
	root := push(ocispec.MediaTypeImageIndex, idx)
	graph := transfer.NewGraph()
	if err := graph.Walk(ctx, store, root); err != nil {
		t.Fatal(err)
	}
	ref, err := bundle.ParseImageRef("registry.example.com/stellaops/authority@" + root.Digest.String())
	if err != nil {
		t.Fatal(err)
	}
	img := &sourceImage{Image: release.Image{Name: "authority", Ref: ref, Line: 1}, root: root, sourceDigest: root.Digest, graph: graph}
	f := resolvedFit("release.txt", "2025.10.0", []*sourceImage{img}, nil, nil, guessPlatforms)
	if got := f.images[0].Platforms; !slices.Equal(got, want) || f.guessed != 0 {
		t.Errorf("platforms counted %q (%d guessed), want the index's %q, none guessed", got, f.guessed, want)
	}
}

// TestReleaseFitRefusesManyAdvisoriesCheaply: advisories that alone pass
// manifest.json's bound (each entry takes at least its path and a digest)
// are refused from their paths' lengths; create marshalled manifest.json
// of every one of them twice first, 74 MB of it for 200,000 advisory files
// (237 MiB of memory). The refusal says the same, and allocates next to
// nothing (the advisories' entries take 5 MB).
func TestReleaseFitRefusesManyAdvisoriesCheaply(t *testing.T) {
	advisories := make([]bundle.File, 30000)
	for i := range advisories {
		advisories[i] = bundle.File{Path: fmt.Sprintf("advisories/feed/CVE-2025-%06d-%s.json", i, strings.Repeat("x", 60)), Size: 2}
	}
	f := releaseFit{file: "release.yaml", images: releaseOf(t, 5), advisories: advisories}
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	err := f.check()
	runtime.ReadMemStats(&after)
	if !errors.Is(err, errdef.ErrUsage) || !strings.Contains(err.Error(), "release.yaml: its manifest.json would be over") ||
		!strings.Contains(err.Error(), "(5 images, 30000 advisory files)") || !strings.Contains(err.Error(), "carry the advisories as fewer files") {
		t.Fatalf("err = %v, want a usage error naming the advisories", err)
	}
	if n := after.TotalAlloc - before.TotalAlloc; n > 1<<20 {
		t.Errorf("refusing 30000 advisories allocated %d bytes, want at most 1 MiB", n)
	}
}

// TestAdvisoryPathsStopsPastTheBound: create lists the advisory files
// before any request, to refuse a feed no bundle holds; it listed every
// one, its path held, however many (a feed of 200,000 held 90 MiB to be
// refused). The listing now stops at the file that takes manifest.json
// past its bound, and the refusal says there are more.
func TestAdvisoryPathsStopsPastTheBound(t *testing.T) {
	const dirs, each = 30, 1000
	root := t.TempDir()
	name := strings.Repeat("x", 100)
	for d := range dirs {
		dir := filepath.Join(root, fmt.Sprintf("d%02d", d))
		if err := os.Mkdir(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		for i := range each {
			if err := os.WriteFile(filepath.Join(dir, fmt.Sprintf("CVE-%04d-%s.json", i, name)), []byte("{}"), 0o644); err != nil {
				t.Fatal(err)
			}
		}
	}
	out, cut, err := advisoryPaths(root)
	if err != nil {
		t.Fatal(err)
	}
	perEntry := advisoryLeast(out[0])
	if most := bundle.MaxManifestJSONSize/perEntry + 1; !cut || len(out) > most {
		t.Fatalf("listed %d of %d advisories (cut %v), want at most %d, cut", len(out), dirs*each, cut, most)
	}
	err = releaseFit{file: "release.yaml", images: releaseOf(t, 5), advisories: out, advisoriesCut: cut}.check()
	if !errors.Is(err, errdef.ErrUsage) || !strings.Contains(err.Error(), fmt.Sprintf("(5 images, more than %d advisory files)", len(out))) {
		t.Fatalf("err = %v, want a usage error saying there are more than %d advisory files", err, len(out))
	}

	// A feed within the bound is listed whole.
	out, cut, err = advisoryPaths(filepath.Join(root, "d00"))
	if err != nil || cut || len(out) != each {
		t.Fatalf("listed %d of %d (cut %v, err %v)", len(out), each, cut, err)
	}
}

// TestAdvisoryPathsReadsOneDirectoryInBatches: the listing stopped at
// the bound, but filepath.WalkDir read each directory whole, sorted,
// before the first of its files was listed, so a feed of one directory of
// a million files held every name to be refused. It reads a directory a
// batch at a time: twice as many files past the bound cost no more.
func TestAdvisoryPathsReadsOneDirectoryInBatches(t *testing.T) {
	root := t.TempDir()
	name := strings.Repeat("x", 230)
	perEntry := advisoryLeast(bundle.File{Path: "advisories/" + name + "-000000"})
	past := bundle.MaxManifestJSONSize/perEntry + 1000
	add := func(from, to int) {
		for i := from; i < to; i++ {
			f, err := os.Create(filepath.Join(root, fmt.Sprintf("%s-%06d", name, i)))
			if err != nil {
				t.Fatal(err)
			}
			f.Close()
		}
	}
	list := func() uint64 {
		runtime.GC()
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		out, cut, err := advisoryPaths(root)
		runtime.ReadMemStats(&after)
		if err != nil || !cut || len(out) > past {
			t.Fatalf("listed %d (cut %v, err %v), want at most %d, cut", len(out), cut, err, past)
		}
		return after.TotalAlloc - before.TotalAlloc
	}
	add(0, past)
	small := list()
	add(past, 2*past)
	if large := list(); large > small+(1<<20) {
		t.Errorf("listing a directory of %d advisories allocated %d bytes, of %d: %d; want no more than a MiB more, the listing stopping at the same bound", 2*past, large, past, small)
	}
}
