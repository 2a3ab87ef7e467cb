package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"

	"github.com/opencontainers/go-digest"

	"github.com/stellaops/mirror/internal/sample"
	"github.com/stellaops/mirror/pkg/remote"
)

// deltaSizes makes the next release (two images and the advisories
// changed) and compares the full bundle with the delta on the previous one:
// the figures issue 6 asks for.
func (e *env) deltaSizes(mib int64) error {
	client, err := remote.New(remote.Options{PlainHTTP: true, ConfigFile: filepath.Join(e.work, "config.json")})
	if err != nil {
		return err
	}
	spec := sizes(mib, e.layers)
	spec.Registry, spec.Version, spec.Variant = e.source, "2025.11.0", 5
	relB, err := sample.Push(context.Background(), spec, func(repo string) (sample.Pusher, error) {
		return client.Repository(e.source + "/" + repo)
	})
	if err != nil {
		return err
	}
	dirB := filepath.Join(e.work, "release-b")
	os.MkdirAll(dirB, 0o755)
	releaseB, advB, err := relB.WriteFiles(dirB)
	if err != nil {
		return err
	}
	base := filepath.Join(e.work, "delta-base")
	full, delta := filepath.Join(e.work, "b-full.tar"), filepath.Join(e.work, "b-delta.tar")
	for _, p := range []string{base, full, delta} {
		os.RemoveAll(p)
		defer os.RemoveAll(p)
	}
	if err := e.benchKey(); err != nil {
		return err
	}
	pub := filepath.Join(e.work, "bench.pub")
	for _, argv := range [][]string{
		{e.stella, "mirror", "create", "--images", e.releaseFile, "--advisories", e.advisories, "--output", base, "--plain-http", "--quiet"},
		{e.stella, "mirror", "sign", filepath.Join(base, "manifest.json"), "--key", e.keyPath(), "--output", filepath.Join(base, "manifest.dsse"), "--quiet"},
		{e.stella, "mirror", "create", "--images", releaseB, "--advisories", advB, "--output", full, "--plain-http", "--quiet"},
		{e.stella, "mirror", "create", "--images", releaseB, "--advisories", advB, "--output", delta, "--plain-http", "--base", base, "--base-key", pub, "--quiet"},
	} {
		if _, err := timed(argv, e.childEnv); err != nil {
			return err
		}
	}
	inA := map[digest.Digest]bool{}
	for _, img := range e.rel.Images {
		for dg := range img.Blobs {
			inA[dg] = true
		}
	}
	var newBytes int64
	seen := map[digest.Digest]bool{}
	for _, img := range relB.Images {
		for dg, n := range img.Blobs {
			if !inA[dg] && !seen[dg] {
				seen[dg] = true
				newBytes += n
			}
		}
	}
	fst, _ := os.Stat(full)
	dst, _ := os.Stat(delta)
	fmt.Printf("\ndelta (release %s on %s: two images and the advisories changed)\n", relB.Spec.Version, e.rel.Spec.Version)
	fmt.Printf("| bundle | size | note |\n|---|---|---|\n")
	fmt.Printf("| full   | %s | |\n", human(fst.Size()))
	fmt.Printf("| delta  | %s | new image bytes %s; the rest (advisories, manifests, tar headers) %s |\n",
		human(dst.Size()), human(newBytes), humanKiB(dst.Size()-newBytes))
	return nil
}

func humanKiB(n int64) string { return fmt.Sprintf("%.0f KiB", float64(n)/1024) }
