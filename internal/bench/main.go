// Command bench measures StellaOps Mirror end to end on this machine: it
// generates a release of incompressible blobs (shared base layer, multi-
// platform images) deterministically into a local CNCF distribution
// registry, then times the stella binary's commands, each repeated, and
// reports median (min–max) wall time, MiB/s and peak RSS.
//
//	go run ./internal/bench -stella bin/stella [-mib 800] [-runs 3]
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/stellaops/mirror/internal/sample"
	"github.com/stellaops/mirror/internal/testutil"
	"github.com/stellaops/mirror/pkg/remote"
)

func main() {
	stella := flag.String("stella", "bin/stella", "the stella binary")
	mib := flag.Int64("mib", 800, "size of the generated release in MiB of unique blobs")
	runs := flag.Int("runs", 3, "repetitions of each measurement")
	work := flag.String("work", "", "working directory (default: a temporary one, removed at the end)")
	flag.Parse()
	if err := run(*stella, *mib, *runs, *work); err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(1)
	}
}

// sizes splits the release size over the sample's 8 unique layers: one
// base layer shared by every image and 7 per-platform layers.
func sizes(mib int64) sample.Spec {
	total := mib << 20
	base := total / 6
	return sample.Spec{BaseLayerSize: base, LayerSize: (total - base) / 7}
}

func run(stella string, mib int64, runs int, work string) error {
	stella, err := filepath.Abs(stella)
	if err != nil {
		return err
	}
	if work == "" {
		if work, err = os.MkdirTemp("", "stella-bench-"); err != nil {
			return err
		}
		defer os.RemoveAll(work)
	}
	bin := os.Getenv("STELLA_REGISTRY_BIN")
	if bin == "" {
		bin = "registry"
	}
	regDir := filepath.Join(work, "registry")
	os.MkdirAll(regDir, 0o755)
	host, stop, err := testutil.StartDistribution(bin, regDir, testutil.DistributionOptions{})
	if err != nil {
		return fmt.Errorf("start distribution (make tools): %w", err)
	}
	defer stop()

	fmt.Printf("# generating a %d MiB release into the distribution registry on %s\n", mib, host)
	client, err := remote.New(remote.Options{PlainHTTP: true, ConfigFile: filepath.Join(work, "config.json")})
	if err != nil {
		return err
	}
	spec := sizes(mib)
	spec.Registry = host
	rel, err := sample.Push(context.Background(), spec, func(repo string) (sample.Pusher, error) {
		return client.Repository(host + "/" + repo)
	})
	if err != nil {
		return err
	}
	releaseFile, advisories, err := rel.WriteFiles(work)
	if err != nil {
		return err
	}
	var unique int64
	seen := map[string]bool{}
	for _, img := range rel.Images {
		for dg, n := range img.Blobs {
			if !seen[dg.String()] {
				seen[dg.String()] = true
				unique += n
			}
		}
	}
	fmt.Printf("# %d images, %d unique blobs, %.1f MiB unique; %d runs each\n\n", len(rel.Images), len(seen), float64(unique)/(1<<20), runs)

	env := []string{"DOCKER_CONFIG=" + work}
	bundleDir := func(i int) string { return filepath.Join(work, fmt.Sprintf("bundle-%d", i)) }
	var rows []row
	rows = append(rows, measure("create", unique, runs, func(i int) *exec.Cmd {
		os.RemoveAll(bundleDir(i))
		return command(env, stella, "mirror", "create", "--images", releaseFile, "--advisories", advisories,
			"--output", bundleDir(i), "--plain-http", "--created", "2026-11-01T00:00:00Z")
	}))
	for _, suffix := range []string{".tar", ".tar.zst", ".tar.gz"} {
		rows = append(rows, measure("pack "+suffix, unique, runs, func(i int) *exec.Cmd {
			out := filepath.Join(work, "bundle"+suffix)
			os.Remove(out)
			return command(env, stella, "mirror", "pack", bundleDir(0), "--output", out)
		}))
	}
	for _, suffix := range []string{".tar", ".tar.zst"} {
		rows = append(rows, measure("inspect "+suffix, 0, runs, func(int) *exec.Cmd {
			return command(env, stella, "mirror", "inspect", filepath.Join(work, "bundle"+suffix))
		}))
	}
	print(rows)
	return nil
}

func command(env []string, name string, args ...string) *exec.Cmd {
	cmd := exec.Command(name, args...)
	cmd.Env = append(os.Environ(), env...)
	return cmd
}

// row is one measured command.
type row struct {
	name   string
	bytes  int64
	walls  []time.Duration
	maxRSS int64 // KiB
	err    error
}

// measure runs mk(i)'s command runs times and records wall time and peak
// RSS. The RSS comes from /usr/bin/time: Go starts children with vfork, so
// the kernel's rusage of a direct child reports this (large) process's RSS.
func measure(name string, bytes int64, runs int, mk func(i int) *exec.Cmd) row {
	r := row{name: name, bytes: bytes}
	for i := 0; i < runs; i++ {
		cmd := mk(i)
		rssFile := filepath.Join(os.TempDir(), fmt.Sprintf("stella-bench-rss-%d", os.Getpid()))
		cmd.Args = append([]string{"/usr/bin/time", "-f", "%M", "-o", rssFile}, cmd.Args...)
		cmd.Path = "/usr/bin/time"
		var stderr strings.Builder
		cmd.Stderr = &stderr
		start := time.Now()
		if err := cmd.Run(); err != nil {
			r.err = fmt.Errorf("%s: %v: %s", name, err, stderr.String())
			return r
		}
		r.walls = append(r.walls, time.Since(start))
		data, _ := os.ReadFile(rssFile)
		os.Remove(rssFile)
		var kib int64
		fmt.Sscan(string(data), &kib)
		r.maxRSS = max(r.maxRSS, kib)
	}
	return r
}

func print(rows []row) {
	tw := tabwriter.NewWriter(os.Stdout, 0, 4, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "command\twall median\tmin\tmax\tMiB/s\tpeak RSS MiB\t")
	for _, r := range rows {
		if r.err != nil {
			fmt.Fprintf(tw, "%s\tFAILED: %v\t\t\t\t\t\n", r.name, r.err)
			continue
		}
		sorted := append([]time.Duration(nil), r.walls...)
		sort.Slice(sorted, func(i, j int) bool { return sorted[i] < sorted[j] })
		med := sorted[len(sorted)/2]
		rate := "-"
		if r.bytes > 0 {
			rate = fmt.Sprintf("%.0f", float64(r.bytes)/(1<<20)/med.Seconds())
		}
		fmt.Fprintf(tw, "%s\t%.2fs\t%.2fs\t%.2fs\t%s\t%.1f\t\n", r.name, med.Seconds(), sorted[0].Seconds(), sorted[len(sorted)-1].Seconds(), rate, float64(r.maxRSS)/1024)
	}
	tw.Flush()
}
