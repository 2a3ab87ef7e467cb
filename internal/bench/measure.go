package main

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"time"
)

// scenario is one tool doing one job: untimed setup, then timed steps (run
// in order, each under /usr/bin/time), then an optional disk reading.
type scenario struct {
	group, tool string
	// bytes is the payload the job moves, for MiB/s.
	bytes int64
	setup func(run int) error
	steps func(run int) [][]string
	// disk returns the extra local disk the job left behind (bytes).
	disk func(run int) int64
	// peer marks another tool's pipeline (for the ratios).
	peer bool
	// flushed marks another tool's pipeline that ends by flushing its
	// output to the disk (sync FILE), as stella's outputs are before it
	// exits: not a peer for the ratios, compared with in a line of its own.
	flushed bool
	// limit marks the group's limit row: the least work the job's output
	// needs, done in this process (see limits.go).
	limit bool
	// inproc, if set, is timed in place of steps: work this process does
	// itself, as a client of a server that setup started.
	inproc func(run int) error
	// rss, if set, reports the peak RSS (KiB) of the process that did the
	// work (the server), read after the runs.
	rss func() int64
	// teardown, if set, runs once after the runs (it stops the server).
	teardown func()
	// outputs are files and directories the scenario writes, removed after
	// its runs so that a large release fits on the disk.
	outputs []string
}

// result is a measured scenario.
type result struct {
	scenario
	walls []time.Duration
	// net is what each run sent, with -rtt.
	net    []netCount
	maxRSS int64 // KiB
	disk   int64
	err    error
}

func (r result) median() time.Duration {
	s := append([]time.Duration(nil), r.walls...)
	sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
	return s[len(s)/2]
}

func (r result) minmax() (time.Duration, time.Duration) {
	s := append([]time.Duration(nil), r.walls...)
	sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
	return s[0], s[len(s)-1]
}

func (r result) rate() float64 { return float64(r.bytes) / (1 << 20) / r.median().Seconds() }

// run measures a scenario runs times. Peak RSS comes from /usr/bin/time:
// Go starts children with vfork, so the kernel's rusage of a direct child
// reports this (large) process's RSS instead of the child's.
func run(s scenario, runs int, env []string, w *wan) result {
	r := result{scenario: s}
	if s.teardown != nil {
		defer s.teardown()
	}
	defer func() {
		for _, p := range s.outputs {
			os.RemoveAll(p)
		}
	}()
	for i := 0; i < runs; i++ {
		if s.setup != nil {
			if err := s.setup(i); err != nil {
				r.err = fmt.Errorf("setup: %w", err)
				return r
			}
		}
		// Every run starts with no dirty pages: the writeback of what the
		// runs before it wrote (registries do not flush) would otherwise
		// land in this one's time.
		syncDisks()
		if w != nil {
			w.reset()
		}
		start := time.Now()
		if s.inproc != nil {
			if err := s.inproc(i); err != nil {
				r.err = err
				return r
			}
		}
		for _, argv := range s.stepsOf(i) {
			rss, err := timed(argv, env)
			if err != nil {
				r.err = err
				return r
			}
			r.maxRSS = max(r.maxRSS, rss)
		}
		r.walls = append(r.walls, time.Since(start))
		if w != nil {
			r.net = append(r.net, w.count())
		}
		if s.disk != nil {
			r.disk = max(r.disk, s.disk(i))
		}
	}
	if s.rss != nil {
		r.maxRSS = max(r.maxRSS, s.rss())
	}
	return r
}

func (s scenario) stepsOf(run int) [][]string {
	if s.steps == nil {
		return nil
	}
	return s.steps(run)
}

func timed(argv []string, env []string) (int64, error) {
	rssFile := filepath.Join(os.TempDir(), fmt.Sprintf("stella-bench-rss-%d", os.Getpid()))
	defer os.Remove(rssFile)
	cmd := exec.Command("/usr/bin/time", append([]string{"-f", "%M", "-o", rssFile}, argv...)...)
	cmd.Env = append(os.Environ(), env...)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	if err := cmd.Run(); err != nil {
		return 0, fmt.Errorf("%s: %v: %s", strings.Join(argv, " "), err, lastLine(stderr.String()))
	}
	data, _ := os.ReadFile(rssFile)
	var kib int64
	fmt.Sscan(string(data), &kib)
	return kib, nil
}

func lastLine(s string) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	return lines[len(lines)-1]
}

// dirSize is the total size of the regular files under dir.
func dirSize(dir string) int64 {
	var n int64
	filepath.Walk(dir, func(_ string, info os.FileInfo, err error) error {
		if err == nil && info.Mode().IsRegular() {
			n += info.Size()
		}
		return nil
	})
	return n
}

// report prints one table per group: each tool's median (min–max), MiB/s,
// ratio to the fastest peer, to the floor and to the group's limit row,
// peak RSS and extra disk.
func report(results []result, floor float64) {
	groups := []string{}
	seen := map[string]bool{}
	for _, r := range results {
		if !seen[r.group] {
			seen[r.group] = true
			groups = append(groups, r.group)
		}
	}
	for _, g := range groups {
		fastestPeer, fastestFlushed, limit := 0.0, 0.0, 0.0
		for _, r := range results {
			if r.group != g || r.err != nil || r.bytes == 0 {
				continue
			}
			if r.peer {
				fastestPeer = max(fastestPeer, r.rate())
			}
			if r.flushed {
				fastestFlushed = max(fastestFlushed, r.rate())
			}
			if r.limit {
				limit = r.rate()
			}
		}
		fmt.Printf("\n%s\n", g)
		fmt.Printf("| %-44s | %-22s | %7s | %8s | %8s | %8s | %9s | %10s |\n", "tool", "wall median (min–max)", "MiB/s", "vs peer", "vs floor", "vs limit", "RSS MiB", "extra disk")
		fmt.Printf("|%s|%s|%s|%s|%s|%s|%s|%s|\n", strings.Repeat("-", 46), strings.Repeat("-", 24), strings.Repeat("-", 9), strings.Repeat("-", 10), strings.Repeat("-", 10), strings.Repeat("-", 10), strings.Repeat("-", 11), strings.Repeat("-", 12))
		for _, r := range results {
			if r.group != g {
				continue
			}
			if r.err != nil {
				fmt.Printf("| %-44s | FAILED: %v\n", r.tool, r.err)
				continue
			}
			lo, hi := r.minmax()
			rate, vsPeer, vsFloor, vsLimit := "-", "-", "-", "-"
			if r.bytes > 0 {
				rate = fmt.Sprintf("%.0f", r.rate())
				vsPeer = ratio(r.rate(), fastestPeer, "%.2fx", 1)
				vsFloor = ratio(r.rate(), floor, "%.0f%%", 100)
				vsLimit = ratio(r.rate(), limit, "%.0f%%", 100)
			}
			rss := "-"
			if !r.limit {
				rss = fmt.Sprintf("%.1f", float64(r.maxRSS)/1024)
			}
			fmt.Printf("| %-44s | %5.2fs (%5.2f–%5.2f) | %7s | %8s | %8s | %8s | %9s | %10s |\n",
				r.tool, r.median().Seconds(), lo.Seconds(), hi.Seconds(), rate, vsPeer, vsFloor, vsLimit, rss, human(r.disk))
		}
		reportFlushed(results, g, fastestFlushed)
	}
}

// reportFlushed prints, for each of stella's rows of group g, its ratio to
// the fastest peer pipeline that flushed its output to the disk as stella
// does (a medium is only ready to be carried away once it has).
func reportFlushed(results []result, g string, fastest float64) {
	if fastest <= 0 {
		return
	}
	fmt.Printf("against the fastest peer with its output flushed to the disk (%.0f MiB/s):\n", fastest)
	for _, r := range results {
		if r.group == g && r.err == nil && r.bytes > 0 && !r.peer && !r.flushed && !r.limit {
			fmt.Printf("  %-44s %s\n", r.tool, ratio(r.rate(), fastest, "%.2fx", 1))
		}
	}
}

// ratio formats scale*rate/of, or "-" when there is nothing to compare to.
func ratio(rate, of float64, format string, scale float64) string {
	if of <= 0 {
		return "-"
	}
	return fmt.Sprintf(format, scale*rate/of)
}

func human(n int64) string {
	if n <= 0 {
		return "0"
	}
	return fmt.Sprintf("%.0f MiB", float64(n)/(1<<20))
}
