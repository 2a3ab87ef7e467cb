package mirror_test

import (
	"context"
	"net/http"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stellaops/mirror/internal/sample"
	"github.com/stellaops/mirror/internal/testutil"
	"github.com/stellaops/mirror/pkg/mirror"
)

// BenchmarkPullRoundTrips measures a keyed pull of the sample bundle, its
// registry answering each request after a round trip (STELLA_BENCH_RTT,
// default 5ms): the root, its metadata and signing, its documents and its
// blobs. It reports the time in round trips.
func BenchmarkPullRoundTrips(b *testing.B) {
	rtt := 5 * time.Millisecond
	if d, err := time.ParseDuration(os.Getenv("STELLA_BENCH_RTT")); err == nil && d > 0 {
		rtt = d
	}
	// The registry's answer is held for the round trip: emulated latency,
	// not an ordering of events.
	late := func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			time.Sleep(rtt)
			next.ServeHTTP(w, r)
		})
	}
	s := newSignedSample(b, sample.Spec{}, 0)
	ctx := context.Background()
	ref := testutil.RegistryWrapped(b, late) + "/stellaops/mirror-bundle:" + s.rel.Spec.Version
	if _, err := mirror.Push(ctx, mirror.PushOptions{Now: testNow, Source: s.dir, Reference: ref, Client: testutil.Client(b)}); err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		if _, err := mirror.Pull(ctx, mirror.PullOptions{Reference: ref, Output: filepath.Join(b.TempDir(), "pulled"),
			Trust: trustKeys(s.pub), Client: testutil.Client(b)}); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.Elapsed())/float64(b.N)/float64(rtt), "rtts/op")
}
