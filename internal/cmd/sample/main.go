// Command sample pushes StellaOps Mirror's sample release (five small,
// deterministically generated images, one multi-platform, one with an SBOM
// referrer) into a registry, and writes its release file and advisory
// feeds: something to mirror on a machine that has no images yet. The
// README's quickstart uses it.
//
//	go run ./internal/cmd/sample -registry 127.0.0.1:5000 -plain-http -out .
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"

	"github.com/stellaops/mirror/internal/sample"
	"github.com/stellaops/mirror/pkg/remote"
)

func main() {
	host := flag.String("registry", "", "registry to push the sample release into, HOST[:PORT] (required)")
	plainHTTP := flag.Bool("plain-http", false, "talk plain HTTP to the registry")
	out := flag.String("out", ".", "directory to write release.yaml and advisories/ into")
	version := flag.String("release-version", "", "release version (default 2025.10.0)")
	images := flag.Int("images", 0, "images in the release, when more than the five of the sample: each added one two platforms with an SBOM referrer (the scale benchmarks' release)")
	advisories := flag.Int("advisories", 0, "small advisory files to add beside the two feeds")
	baseLayer := flag.Int64("base-layer-size", 0, "size in bytes of the base layer every image shares (default 256 KiB)")
	layer := flag.Int64("layer-size", 0, "size in bytes of each image's own layer (default 64 KiB)")
	flag.Parse()
	if *host == "" || flag.NArg() > 0 {
		flag.Usage()
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	spec := sample.Spec{Registry: *host, Version: *version, Images: *images, Advisories: *advisories, BaseLayerSize: *baseLayer, LayerSize: *layer}
	if err := run(ctx, spec, *plainHTTP, *out); err != nil {
		fmt.Fprintln(os.Stderr, "sample:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, spec sample.Spec, plainHTTP bool, out string) error {
	host := spec.Registry
	client, err := remote.New(remote.Options{PlainHTTP: plainHTTP, UserAgent: "stella-mirror-sample"})
	if err != nil {
		return err
	}
	rel, err := sample.Push(ctx, spec, func(repo string) (sample.Pusher, error) {
		return client.Repository(host + "/" + repo)
	})
	if err != nil {
		return err
	}
	if err := os.MkdirAll(out, 0o755); err != nil {
		return err
	}
	releaseFile, advisories, err := rel.WriteFiles(out)
	if err != nil {
		return err
	}
	fmt.Printf("pushed sample release %s (%d images) to %s\n", rel.Spec.Version, len(rel.Images), host)
	for _, p := range []string{releaseFile, advisories} {
		if rp, err := filepath.Rel(".", p); err == nil {
			p = rp
		}
		fmt.Printf("wrote %s\n", p)
	}
	return nil
}
