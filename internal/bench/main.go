// Command bench measures StellaOps Mirror end to end on this machine, side
// by side with the tools operators use today. It generates a release of
// incompressible blobs (a base layer every image shares, multi-platform
// images) deterministically into a local CNCF distribution registry, then
// times each tool's pipeline for each job, repeated, and prints median
// (min–max) wall time, MiB/s, the ratio to the fastest peer, to the floor
// (every unique blob fetched once with parallel GETs and hashed) and to the
// job's limit (the least work its output needs, see limits.go), peak RSS
// and extra disk. serve is measured as its clients see it: every
// blob pulled from stella mirror serve over the tar, against distribution
// holding the same bundle after an import, and against reading the tar.
//
//	go run ./internal/bench -stella bin/stella [-mib 800] [-layers 1] [-runs 3] [-rtt 25ms]
//
// With -rtt (0 included), every registry sits behind a proxy that delays
// each request by the round trip time and counts the requests of each run
// (see latency.go).
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/opencontainers/go-digest"

	"github.com/stellaops/mirror/internal/sample"
	"github.com/stellaops/mirror/internal/testutil"
	"github.com/stellaops/mirror/pkg/remote"
)

func main() {
	stella := flag.String("stella", "bin/stella", "the stella binary")
	mib := flag.Int64("mib", 800, "size of the generated release in MiB of unique blobs")
	layers := flag.Int("layers", 1, "layers each platform image has besides the shared base (the same bytes in more, smaller blobs)")
	runs := flag.Int("runs", 3, "repetitions of each measurement")
	work := flag.String("work", "", "working directory (default: a temporary one, removed at the end)")
	only := flag.String("only", "", "run only the groups whose name contains one of these (comma-separated: export,import,reimport,sync,push,serve,inspect,verify,delta)")
	var rtt *time.Duration
	flag.Func("rtt", "put every registry behind a proxy that delays each request by this round trip time (0s: no delay) and report each job's requests and sequential depth", func(s string) error {
		d, err := time.ParseDuration(s)
		if err == nil && d < 0 {
			err = fmt.Errorf("negative round trip time %s", s)
		}
		rtt = &d
		return err
	})
	trace := flag.Bool("trace", false, "with -rtt, print each request to a registry (method, path, depth) on stderr")
	flag.Parse()
	if err := bench(*stella, *mib, *layers, *runs, *work, *only, rtt, *trace); err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(1)
	}
}

// env is what every scenario shares.
type env struct {
	stella, work, regBin string
	layers               int
	source               string
	rel                  *sample.Release
	releaseFile          string
	advisories           string
	unique               int64
	blobs                map[digest.Digest]blobAt
	childEnv             []string
	// wan, with -rtt, is the proxy in front of every registry (latency.go).
	wan *wan
	// stops stops every registry started, at the end.
	stops []func()
}

type blobAt struct {
	repo     string
	size     int64
	manifest bool
}

// sizes splits the release over the sample's unique layers: one base
// layer every image shares and 7 per-platform layers, each cut into
// layers blobs.
func sizes(mib int64, layers int) sample.Spec {
	total := mib << 20
	base := total / 6
	return sample.Spec{BaseLayerSize: base, LayerSize: (total - base) / 7, Layers: layers}
}

func bench(stella string, mib int64, layers, runs int, work, only string, rtt *time.Duration, trace bool) error {
	var err error
	if stella, err = filepath.Abs(stella); err != nil {
		return err
	}
	if work == "" {
		if work, err = os.MkdirTemp("", "stella-bench-"); err != nil {
			return err
		}
		defer os.RemoveAll(work)
	}
	e := &env{stella: stella, work: work, layers: layers, regBin: os.Getenv("STELLA_REGISTRY_BIN"), childEnv: []string{"DOCKER_CONFIG=" + work, "COSIGN_PASSWORD=bench"}}
	if e.regBin == "" {
		e.regBin = "registry"
	}
	if rtt != nil {
		e.wan = &wan{trace: trace}
	}
	defer func() {
		for _, stop := range e.stops {
			stop()
		}
	}()
	source, stop, err := e.registry("source")
	if err != nil {
		return err
	}
	defer stop()
	e.source = source
	if err := e.generate(mib); err != nil {
		return err
	}
	if rtt != nil {
		e.wan.rtt.Store(int64(*rtt))
		fmt.Printf("# every registry behind a proxy delaying each request by %s\n", *rtt)
	}
	fmt.Printf("# %s: %d images, %d unique blobs, %.1f MiB unique, in distribution on %s; %d runs each\n",
		e.rel.Spec.Version, len(e.rel.Images), len(e.blobs), float64(e.unique)/(1<<20), source, runs)
	floor, err := e.floor()
	if err != nil {
		return err
	}
	fmt.Printf("# floor: every unique blob fetched once (8 parallel GETs) and hashed: %.0f MiB/s\n", floor)

	var results []result
	for _, group := range []struct {
		name      string
		scenarios func() []scenario
	}{
		{"export (registry -> media)", e.exportScenarios},
		{"import (media -> registry)", e.importScenarios},
		{"reimport (media -> registry holding it)", e.reimportScenarios},
		{"sync (registry -> registry)", e.syncScenarios},
		{"inspect, verify", e.inspectScenarios},
		{"serve (media -> clients)", e.serveScenarios},
	} {
		if only != "" && !contains(group.name, only) {
			continue
		}
		for _, s := range group.scenarios() {
			if s.group == "" {
				s.group = group.name
			}
			fmt.Fprintf(os.Stderr, "measuring %s: %s\n", group.name, s.tool)
			results = append(results, run(s, runs, e.childEnv, e.wan))
		}
	}
	report(results, floor)
	if rtt != nil {
		reportNet(results, *rtt)
	}
	if only == "" || contains("delta", only) {
		if err := e.deltaSizes(mib); err != nil {
			return err
		}
	}
	return nil
}

// contains reports whether s contains any of the comma-separated subs.
func contains(s, subs string) bool {
	if subs == "" {
		return true
	}
	for _, sub := range strings.Split(subs, ",") {
		if sub != "" && indexOf(s, sub) >= 0 {
			return true
		}
	}
	return false
}

func indexOf(s, sub string) int {
	for i := 0; i+len(sub) <= len(s); i++ {
		if s[i:i+len(sub)] == sub {
			return i
		}
	}
	return -1
}

// registry starts a distribution registry with its storage under
// work/name.
func (e *env) registry(name string) (string, func(), error) {
	dir := filepath.Join(e.work, "registry-"+name)
	os.RemoveAll(dir)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", nil, err
	}
	host, stop, err := testutil.StartDistribution(e.regBin, dir, testutil.DistributionOptions{})
	if err != nil {
		return "", nil, fmt.Errorf("start distribution (make tools): %w", err)
	}
	if e.wan != nil {
		proxy, stopProxy, err := e.wan.front(host)
		if err != nil {
			stop()
			return "", nil, err
		}
		stopRegistry := stop
		host, stop = proxy, func() { stopProxy(); stopRegistry() }
	}
	stopAndRemove := func() { stop(); os.RemoveAll(dir) }
	e.stops = append(e.stops, stopAndRemove)
	return host, stopAndRemove, nil
}

// generate pushes the sample release into the source registry.
func (e *env) generate(mib int64) error {
	client, err := remote.New(remote.Options{PlainHTTP: true, ConfigFile: filepath.Join(e.work, "config.json")})
	if err != nil {
		return err
	}
	spec := sizes(mib, e.layers)
	spec.Registry = e.source
	e.rel, err = sample.Push(context.Background(), spec, func(repo string) (sample.Pusher, error) {
		return client.Repository(e.source + "/" + repo)
	})
	if err != nil {
		return err
	}
	if e.releaseFile, e.advisories, err = e.rel.WriteFiles(e.work); err != nil {
		return err
	}
	e.blobs = map[digest.Digest]blobAt{}
	for _, img := range e.rel.Images {
		for dg, n := range img.Blobs {
			if _, ok := e.blobs[dg]; !ok {
				e.blobs[dg] = blobAt{repo: img.Repository, size: n, manifest: img.Manifests[dg]}
				e.unique += n
			}
		}
	}
	return nil
}
