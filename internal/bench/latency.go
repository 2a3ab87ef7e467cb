package main

import (
	"fmt"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"os"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// With -rtt, every registry the bench starts sits behind a proxy on
// 127.0.0.1 that holds each request for the round trip time before it
// passes it on (a WAN, or a far-side LAN, simulated: the registries
// themselves answer in microseconds here), and counts what each timed
// run sent, whatever the tool:
//
//   - requests: every HTTP request to any registry;
//   - depth: the longest chain of requests of which each started only
//     after the one before it had been answered. A request is counted
//     one deeper than the deepest chain answered before it started (it
//     may have waited for any of them), so depth is an upper bound of the
//     run's sequential round trips: its wall time is at least depth × RTT;
//   - in flight: the most requests the registries held at once.
//
// The sleep is the simulated network, not a synchronisation.
type wan struct {
	rtt atomic.Int64 // nanoseconds; 0 until the release is generated
	// trace, if set, prints each request of a timed run with its depth.
	trace bool

	mu                     sync.Mutex
	requests               int64
	inFlight, maxInFlight  int
	answeredDepth, deepest int
}

// netCount is what one run sent.
type netCount struct {
	requests    int64
	depth       int
	maxInFlight int
}

// reset starts the count of a run.
func (w *wan) reset() {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.requests, w.maxInFlight, w.answeredDepth, w.deepest = 0, w.inFlight, 0, 0
}

func (w *wan) count() netCount {
	w.mu.Lock()
	defer w.mu.Unlock()
	return netCount{requests: w.requests, depth: w.deepest, maxInFlight: w.maxInFlight}
}

// begin counts a request and returns its depth.
func (w *wan) begin() int {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.requests++
	w.inFlight++
	w.maxInFlight = max(w.maxInFlight, w.inFlight)
	return w.answeredDepth + 1
}

// end records the request of depth d as answered.
func (w *wan) end(d int) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.inFlight--
	w.answeredDepth = max(w.answeredDepth, d)
	w.deepest = max(w.deepest, d)
}

// front starts the delaying, counting proxy in front of the registry at
// host and returns the proxy's host:port and its stop.
func (w *wan) front(host string) (string, func(), error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", nil, err
	}
	proxy := httputil.NewSingleHostReverseProxy(&url.URL{Scheme: "http", Host: host})
	proxy.Transport = &http.Transport{MaxIdleConnsPerHost: 256, DisableCompression: true}
	// The client's Host goes through unchanged (the director keeps it), so
	// that the Location of an upload names the proxy, not the registry.
	srv := &http.Server{Handler: http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		d := w.begin()
		defer w.end(d)
		if w.trace {
			fmt.Fprintf(os.Stderr, "trace: depth %3d %s %s %s\n", d, r.Method, host, r.URL.Path)
		}
		if rtt := time.Duration(w.rtt.Load()); rtt > 0 {
			time.Sleep(rtt) // the network, simulated
		}
		proxy.ServeHTTP(rw, r)
	})}
	go srv.Serve(ln)
	return ln.Addr().String(), func() { srv.Close() }, nil
}

// reportNet prints, for each group, each tool's median requests, depth
// and requests in flight.
func reportNet(results []result, rtt time.Duration) {
	groups := []string{}
	seen := map[string]bool{}
	for _, r := range results {
		if !seen[r.group] && len(r.net) > 0 {
			seen[r.group] = true
			groups = append(groups, r.group)
		}
	}
	for _, g := range groups {
		fmt.Printf("\n%s: round trips behind a proxy of %s RTT (median of the runs)\n", g, rtt)
		fmt.Printf("| %-44s | %7s | %8s | %9s | %9s |\n", "tool", "wall", "requests", "seq depth", "in flight")
		fmt.Printf("|%s|%s|%s|%s|%s|\n", strings.Repeat("-", 46), strings.Repeat("-", 9), strings.Repeat("-", 10), strings.Repeat("-", 11), strings.Repeat("-", 11))
		for _, r := range results {
			if r.group != g || r.err != nil || len(r.net) == 0 {
				continue
			}
			fmt.Printf("| %-44s | %6.2fs | %8d | %9d | %9d |\n", r.tool, r.median().Seconds(),
				medianOf(r.net, func(n netCount) int64 { return n.requests }),
				medianOf(r.net, func(n netCount) int64 { return int64(n.depth) }),
				medianOf(r.net, func(n netCount) int64 { return int64(n.maxInFlight) }))
		}
	}
}

func medianOf(counts []netCount, f func(netCount) int64) int64 {
	s := make([]int64, len(counts))
	for i, c := range counts {
		s[i] = f(c)
	}
	sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
	return s[len(s)/2]
}
