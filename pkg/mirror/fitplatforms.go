package mirror

import (
	"context"
	"fmt"
	"strings"
	"sync"

	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/stellaops/mirror/internal/errgroup"
	"github.com/stellaops/mirror/pkg/remote"
	"github.com/stellaops/mirror/pkg/transfer"
)

// platformsFunc gives an image's platforms for its manifest.json entry, and
// whether they were guessed rather than read.
type platformsFunc func(img *sourceImage) (platforms []string, guessed bool)

// likelyConfig stands, before any blob is fetched, for the config a
// single-platform image's platform is read from: a platform longer than
// any in use (linux/arm64/v8, windows/amd64), so that a release that fits
// with it fits with the real one.
var likelyConfig = []byte(`{"os":"` + strings.Repeat("o", 16) + `","architecture":"` + strings.Repeat("a", 16) + `","variant":"` + strings.Repeat("v", 8) + `"}`)

// guessPlatforms reads an index's platforms from the index, and takes an
// image manifest's, which is in its config, as likelyConfig's.
func guessPlatforms(img *sourceImage) ([]string, bool) {
	guessed := false
	root, _ := img.graph.Node(img.root.Digest)
	p, _ := platformsOf(root, img.graph.Node, func(ocispec.Descriptor) ([]byte, error) {
		guessed = true
		return likelyConfig, nil
	})
	return p, guessed
}

// checkResolvedFit refuses, before any layer is fetched, a release whose
// manifest.json, as the writer will write it, would pass its bound (or
// whose SHA256SUMS or head would pass theirs). The images' platforms are
// taken first as guessPlatforms guesses them: a release that fits so is
// passed with no blob fetched. One that does not is counted again with the
// platforms read from the configs of its single-platform images (a few
// hundred bytes each, limit at a time), as the writer reads them: a
// release within what its platforms take of the bound is refused here,
// not once every layer is on disk.
func checkResolvedFit(ctx context.Context, fit func(platformsFunc) releaseFit, images []*sourceImage, limit int) error {
	f := fit(guessPlatforms)
	err := f.check()
	if err == nil || f.guessed == 0 {
		return err
	}
	read, err := configPlatforms(ctx, images, limit, f.file)
	if err != nil {
		return err
	}
	return fit(read).check()
}

// configPlatforms reads the platforms of every image whose platform is in
// its config (an image manifest), fetching the config from the image's
// repository, verified and bounded as a manifest is; indexes name theirs.
func configPlatforms(ctx context.Context, images []*sourceImage, limit int, file string) (platformsFunc, error) {
	var mu sync.Mutex
	read := map[*sourceImage][]string{}
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(limit)
	for _, img := range images {
		if _, guessed := guessPlatforms(img); !guessed {
			continue
		}
		g.Go(func() error {
			root, _ := img.graph.Node(img.root.Digest)
			p, err := platformsOf(root, img.graph.Node, func(d ocispec.Descriptor) ([]byte, error) {
				data, err := transfer.FetchBytes(gctx, img.repo, d)
				return data, remote.Classify(err)
			})
			if err != nil {
				return fmt.Errorf("%s: %w", img.Where(file), err)
			}
			mu.Lock()
			read[img] = p
			mu.Unlock()
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		return nil, err
	}
	return func(img *sourceImage) ([]string, bool) {
		if p, ok := read[img]; ok {
			return p, false
		}
		return guessPlatforms(img)
	}, nil
}
