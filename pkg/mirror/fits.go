package mirror

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"strings"
	"sync"

	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	"oras.land/oras-go/v2/content"

	"github.com/stellaops/mirror/pkg/bundle"
	"github.com/stellaops/mirror/pkg/errdef"
	"github.com/stellaops/mirror/pkg/layout"
	"github.com/stellaops/mirror/pkg/release"
	"github.com/stellaops/mirror/pkg/transfer"
)

// releaseFit is what create knows of a bundle before it fetches its blobs:
// enough to tell whether its manifest.json and SHA256SUMS can stay within
// the bounds every reader holds them to. Each part is counted at its least
// or as it will be written (the head, the kit, the advisories, the images),
// so a release refused here could never have been written; one that passes
// is checked again, exactly, once written (writeBundle, layout.Checksums).
type releaseFit struct {
	file   string // the release file, named in the refusal
	images []bundle.Image
	blobs  int // blobs of the images, each listed in SHA256SUMS
	// advisories are the advisory files (path and size), each listed in
	// SHA256SUMS.
	advisories []bundle.File
	// advisoriesCut says advisoryPaths stopped listing them past the bound.
	advisoriesCut bool
	omitted       int   // blobs a delta leaves to its base, named in manifest.json
	docBytes      int64 // bytes of the images' manifests and indexes, each once
	// head, if set, is manifest.json's head as create writes it
	// (manifestHead), its bundleId and times standing for ones of the
	// same width; files are the kit's entries (kitFiles).
	head  *bundle.Manifest
	files []bundle.File
	// guessed counts the images whose platform, in a config not fetched
	// yet, was taken at its longest likely (guessPlatforms).
	guessed int
}

// maxBundleDocs bounds the bytes of the manifests and indexes of a
// bundle: those of a release's images and their referrers, which create
// fetches, and those a reader of a bundle in a registry holds. A packed
// bundle leads with them all, with its head files, and every reader holds
// that head to layout.MaxHeadBytes. A variable only so that tests can
// lower it.
var maxBundleDocs int64 = layout.MaxHeadBytes

// maxChecksums is the bound every reader holds SHA256SUMS to.
var maxChecksums int64 = bundle.MaxManifestSize

// docBudget holds, across the graphs of every image of a release, the
// manifests they fetch, each once, and refuses the one that would take
// them past maxBundleDocs before it is fetched: what create holds in
// memory is bounded with what a bundle may carry, whatever a hostile
// source attaches to an image (a referrer, a cosign tag, of up to 4 MiB
// each), or names from several images (one manifest by every image's
// cosign tag): a graph that meets a manifest another fetched gets the
// same bytes, not a copy. Safe for concurrent use.
type docBudget struct {
	file  string
	mu    sync.Mutex
	held  map[digest.Digest]*heldDoc
	total int64
	// files, where not nil (a full bundle: a delta leaves out what its
	// base holds), gathers every blob file the manifests fetched name, so
	// that a release past what SHA256SUMS lists is refused as soon as
	// they name that many, not once every manifest is held.
	files map[digest.Digest]struct{}
}

// heldDoc is a manifest counted in a docBudget: fetched by the first
// graph that met it, awaited by the others.
type heldDoc struct {
	ready chan struct{} // closed once the fetch ended
	data  []byte        // its bytes; nil if the fetch failed
}

func newDocBudget(file string, full bool) *docBudget {
	b := &docBudget{file: file, held: map[digest.Digest]*heldDoc{}}
	if full {
		b.files = map[digest.Digest]struct{}{}
	}
	return b
}

// sumsLine is the bytes of SHA256SUMS's line for a blob.
const sumsLine = 64 + 2 + len("blobs/sha256/") + 64 + 1

// countFiles adds the manifest desc (data) and the blobs it names to the
// files of the bundle, and refuses the release once SHA256SUMS could not
// list them all.
func (b *docBudget) countFiles(desc ocispec.Descriptor, data []byte) error {
	if b.files == nil {
		return nil
	}
	var named struct {
		Config *ocispec.Descriptor  `json:"config"`
		Layers []ocispec.Descriptor `json:"layers"`
	}
	_ = json.Unmarshal(data, &named) // parsed for what it names; the graph judges it
	b.mu.Lock()
	defer b.mu.Unlock()
	b.files[desc.Digest] = struct{}{}
	if named.Config != nil {
		b.files[named.Config.Digest] = struct{}{}
	}
	for _, l := range named.Layers {
		b.files[l.Digest] = struct{}{}
	}
	if sums := int64(len(b.files)) * int64(sumsLine); sums > maxChecksums {
		return fmt.Errorf("release too large for one bundle: %s: its SHA256SUMS would be over %d bytes (%d files at least, at %s), over the %d that every reader holds it to: split the release: %w",
			b.file, sums, len(b.files), desc.Digest, maxChecksums, errdef.ErrUsage)
	}
	return nil
}

// fetch is a transfer.Graph's Fetch.
func (b *docBudget) fetch(ctx context.Context, src content.Fetcher, desc ocispec.Descriptor) ([]byte, error) {
	b.mu.Lock()
	d, counted := b.held[desc.Digest]
	if !counted {
		if b.total+desc.Size > maxBundleDocs {
			b.mu.Unlock()
			return nil, fmt.Errorf("release too large for one bundle: %s: the manifests of its images and their referrers pass %d bytes at %s (%d bytes), over the %d a packed bundle leads with: split the release, or leave referrers and cosign tags out (--no-referrers): %w",
				b.file, b.total+desc.Size, desc.Digest, desc.Size, maxBundleDocs, errdef.ErrUsage)
		}
		d = &heldDoc{ready: make(chan struct{})}
		b.held[desc.Digest] = d
		b.total += desc.Size
		b.mu.Unlock()
		data, err := transfer.FetchBytes(ctx, src, desc)
		if err == nil {
			err = b.countFiles(desc, data)
		}
		d.data = data
		close(d.ready)
		return data, err
	}
	b.mu.Unlock()
	select {
	case <-d.ready:
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	// The bytes held matched their digest. Where the first fetch failed,
	// or this descriptor gives another size (which FetchBytes refuses),
	// this graph fetches for itself.
	if d.data != nil && int64(len(d.data)) == desc.Size {
		return d.data, nil
	}
	return transfer.FetchBytes(ctx, src, desc)
}

// placeholderDigest stands for a digest not yet known: every sha256 digest
// takes as many bytes.
var placeholderDigest = digest.NewDigestFromEncoded(digest.SHA256, strings.Repeat("0", 64))

// check refuses a release no bundle can hold, naming the bound it passes.
// The refusal is a usage error (exit 1): the release must be split.
func (f releaseFit) check() error {
	if n := len(f.images); n > bundle.MaxImages {
		return fmt.Errorf("release too large for one bundle: %s names %d images, over the %d one bundle may hold: split the release into %d bundles or more: %w",
			f.file, n, bundle.MaxImages, (n+bundle.MaxImages-1)/bundle.MaxImages, errdef.ErrUsage)
	}
	var m bundle.Manifest
	if f.head != nil {
		m = *f.head
		m.BundleID = bundleIDFor(m.Release, make([]byte, bundleIDSum))
	}
	// Advisories that alone pass the bound, each entry holding at least its
	// path and a digest, are refused before manifest.json is made of them:
	// 200,000 advisory files made create marshal 74 MB of it twice, 237 MiB
	// of memory, to refuse them.
	least := 0
	for _, a := range f.advisories {
		least += advisoryLeast(a)
	}
	if least > bundle.MaxManifestJSONSize {
		count := fmt.Sprint(len(f.advisories))
		if f.advisoriesCut {
			count = "more than " + count
		}
		return fmt.Errorf("release too large for one bundle: %s: its manifest.json would be over %d bytes (%d images, %s advisory files), over the %d that a signed bundle holds: %s: %w",
			f.file, least, len(f.images), count, bundle.MaxManifestJSONSize, f.remedy(0, least), errdef.ErrUsage)
	}
	m.Files = f.files
	m.Advisories = make([]bundle.File, 0, len(f.advisories))
	if f.omitted > 0 {
		m.Base = &bundle.Base{Omitted: make([]digest.Digest, f.omitted)}
		for i := range m.Base.Omitted {
			m.Base.Omitted[i] = placeholderDigest
		}
	}
	for _, a := range f.advisories {
		// Either media type takes as many bytes.
		m.Advisories = append(m.Advisories, advisoryEntry(a.Path, placeholderDigest, a.Size, false))
	}
	rest, err := m.Marshal()
	if err != nil {
		return err
	}
	m.Images = f.images
	data, err := m.Marshal()
	if err != nil {
		return err
	}
	if len(data) > bundle.MaxManifestJSONSize {
		return fmt.Errorf("release too large for one bundle: %s: its manifest.json would be over %d bytes (%d images, %d advisory files), over the %d that a signed bundle holds: %s: %w",
			f.file, len(data), len(f.images), len(f.advisories), bundle.MaxManifestJSONSize, f.remedy(len(data)-len(rest), len(rest)), errdef.ErrUsage)
	}
	// SHA256SUMS: "<64 hex>  <path>\n" for every blob and every advisory
	// (whose blob, which advisories of the same content share, is not
	// counted).
	sums := f.blobs * sumsLine
	for _, a := range f.advisories {
		sums += 64 + 2 + len(a.Path) + 1
	}
	if int64(sums) > maxChecksums {
		return fmt.Errorf("release too large for one bundle: %s: its SHA256SUMS would be over %d bytes (%d files), over the %d that every reader holds it to: split the release, or carry the advisories as fewer files: %w",
			f.file, sums, f.blobs+len(f.advisories), maxChecksums, errdef.ErrUsage)
	}
	// A packed bundle leads with its head files and every manifest: all
	// of them within what a reader holds of a head.
	if head := f.docBytes + int64(len(data)+sums); head > layout.MaxHeadBytes {
		return fmt.Errorf("release too large for one bundle: %s: its manifests (%d bytes), manifest.json and SHA256SUMS would be over %d bytes, over the %d a packed bundle leads with: split the release: %w",
			f.file, f.docBytes, head, layout.MaxHeadBytes, errdef.ErrUsage)
	}
	return nil
}

// remedy says what to do with a release whose manifest.json would be too
// large, its images' entries taking imageBytes and the rest restBytes:
// split the release (into bundles of how many of these images), and, if it
// has advisories, carry them as fewer files.
func (f releaseFit) remedy(imageBytes, restBytes int) string {
	var do []string
	if n := len(f.images); n > 0 && restBytes < bundle.MaxManifestJSONSize {
		fit := min(n*(bundle.MaxManifestJSONSize-restBytes)/imageBytes, bundle.MaxImages)
		do = append(do, fmt.Sprintf("split the release: about %d of these images fit one bundle", fit))
	}
	if len(f.advisories) > 0 {
		do = append(do, "carry the advisories as fewer files")
	}
	if len(do) == 0 {
		return "split the release"
	}
	return strings.Join(do, ", or ")
}

// releaseImages is each image's manifest.json entry as far as the release
// file alone tells it: what the registry adds (platforms, referrers, a
// longer media type, the size) only makes it longer.
func releaseImages(rel *release.Release, version string) []bundle.Image {
	out := make([]bundle.Image, 0, len(rel.Images))
	for _, img := range rel.Images {
		tags := []string{version}
		if img.Ref.Tag != "" && img.Ref.Tag != version {
			tags = append(tags, img.Ref.Tag)
		}
		out = append(out, bundle.Image{Name: img.Name, Source: img.Ref.String(), Repository: img.Ref.Repository, Tags: tags,
			Digest: placeholderDigest, MediaType: ocispec.MediaTypeImageIndex})
	}
	return out
}

// advisoryPaths lists the bundle paths of the advisory files under dir,
// with the size of each regular file (0, at its least, for another: none
// is read, or followed). What addAdvisories refuses is left to it. It stops
// (cut) at the file that takes the entries' least bytes in manifest.json
// past its bound, which releaseFit.check then refuses: a feed of 200,000
// files was listed whole, its paths held, to be refused.
func advisoryPaths(dir string) (out []bundle.File, cut bool, err error) {
	if dir == "" {
		return nil, false, nil
	}
	root, err := advisoriesRoot(dir)
	if err != nil {
		return nil, false, err
	}
	least := 0
	// Read a directory at a time in batches (walkBounded), not whole as
	// filepath.WalkDir does: a directory of a million files was read, its
	// names held, before the bound stopped the listing.
	err = walkBounded(root, "", func(rel string, e fs.DirEntry) error {
		f := bundle.File{Path: "advisories/" + rel}
		if info, err := e.Info(); err == nil && info.Mode().IsRegular() {
			f.Size = info.Size()
		}
		out = append(out, f)
		if least += advisoryLeast(f); least > bundle.MaxManifestJSONSize {
			cut = true
			return fs.SkipAll
		}
		return nil
	}, nil)
	if errors.Is(err, fs.SkipAll) {
		err = nil
	}
	if err != nil {
		return nil, false, fmt.Errorf("--advisories %s: %w", dir, err)
	}
	return out, cut, nil
}

// advisoryLeast is the least an advisory's entry takes in manifest.json:
// its path and a digest.
func advisoryLeast(a bundle.File) int { return len(a.Path) + len(placeholderDigest) }

// resolvedFit is releaseFit once the images are resolved: their entries
// with referrers, media types and platforms (platforms says them, and
// whether it guessed), and every blob of their graphs, known from their
// manifests before any layer is fetched. A delta's blobs that its base
// holds are named in manifest.json instead of SHA256SUMS.
func resolvedFit(file, version string, images []*sourceImage, advisories []bundle.File, base *baseInfo, platforms platformsFunc) releaseFit {
	f := releaseFit{file: file, advisories: advisories}
	seen := map[digest.Digest]bool{}
	for _, img := range images {
		p, guessed := platforms(img)
		if guessed {
			f.guessed++
		}
		f.images = append(f.images, manifestImage(img, version, p))
		for _, n := range img.graph.Nodes {
			if !seen[n.Descriptor.Digest] {
				f.docBytes += int64(len(n.Bytes))
			}
			seen[n.Descriptor.Digest] = true
		}
		for _, b := range img.graph.Blobs {
			if !seen[b.Digest] && base.omit(b) {
				f.omitted++
			}
			seen[b.Digest] = true
		}
	}
	f.blobs = len(seen) - f.omitted
	return f
}
