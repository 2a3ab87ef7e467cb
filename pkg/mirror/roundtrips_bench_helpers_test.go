package mirror_test

import (
	"net/http"
	"os"
	"testing"
	"time"
)

// benchRTT is the round trip the round-trip benchmarks hold each
// registry answer for: STELLA_BENCH_RTT, default 5ms.
func benchRTT() time.Duration {
	if d, err := time.ParseDuration(os.Getenv("STELLA_BENCH_RTT")); err == nil && d > 0 {
		return d
	}
	return 5 * time.Millisecond
}

// lateBy holds a registry's every answer for rtt: emulated latency, not an
// ordering of events (for testutil.RegistryWrapped).
func lateBy(rtt time.Duration) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			time.Sleep(rtt)
			next.ServeHTTP(w, r)
		})
	}
}

// reportRoundTrips reports a benchmark's time per operation in round trips
// of rtt.
func reportRoundTrips(b *testing.B, rtt time.Duration) {
	b.ReportMetric(float64(b.Elapsed())/float64(b.N)/float64(rtt), "rtts/op")
}
